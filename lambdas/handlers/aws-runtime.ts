/**
 * Binds the AWS adapters from the environment CDK sets. Built once per container; a broken
 * configuration is remembered as a ConfigError and answered with the "not configured" page.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DEFAULT_APP_NAME, loadServiceConfig } from '../core/config';
import { ConfigError } from '../core/errors';
import type { BaseRuntime, FlowDependencies, TokenDependencies, TokenRuntime } from '../core/runtime';
import { once } from '../core/runtime';
import { createDocumentClient } from '../adapters/dynamodb-client';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';
import { SecretsManagerCredentialsSource } from '../adapters/secrets-manager-credentials';
import { SecretsManagerConnectLinkKeySource } from '../adapters/secrets-manager-connect-link-key';
import type { RuntimeParts } from './composition';

type Env = Readonly<Record<string, string | undefined>>;

/** Configuration from the environment CDK sets, credentials from Secrets Manager, AWS's DynamoDB. */
export function awsRuntimeParts(env: Env): RuntimeParts {
  const config = loadServiceConfig(env);
  const secretId = env['QBO_CREDENTIALS_SECRET_ID'];
  if (secretId === undefined || secretId === '')
    throw new ConfigError(['QBO_CREDENTIALS_SECRET_ID is not set']);
  const secrets = new SecretsManagerClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
  });
  // Set only on the functions that may read the connect-link key (connect, callback, api).
  const linkKeySecretId = env['CONNECT_LINK_KEY_SECRET_ID'];
  return {
    config,
    credentials: new SecretsManagerCredentialsSource({
      secretId,
      expectedEnvironment: config.qboEnvironment,
      client: secrets,
    }),
    documentClient: createDocumentClient(),
    ...(linkKeySecretId !== undefined && linkKeySecretId !== ''
      ? {
          connectLinkKeys: new SecretsManagerConnectLinkKeySource({
            secretId: linkKeySecretId,
            client: secrets,
          }),
        }
      : {}),
  };
}

/** A runtime built once per container, at init, where Lambda gives the CPU boost; errors resurface per request as ConfigError. */
function builtAtInit<R>(env: Env, build: (env: Env) => R): () => R {
  const runtime = once(() => build(env));
  try {
    runtime();
  } catch {
    /* remembered by once() */
  }
  return runtime;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function awsDependencies<R extends BaseRuntime>(
  env: Env,
  telemetry: PowertoolsTelemetry,
  build: (env: Env) => R,
): FlowDependencies<R> {
  return {
    runtime: builtAtInit(env, build),
    telemetry,
    clock: Date.now,
    sleep,
    fallbackAppName: env['APP_NAME'] ?? DEFAULT_APP_NAME,
  };
}

/** The token API's and the refresher's dependencies: the runtime built once, at init. */
export function awsTokenDependencies(
  env: Env,
  telemetry: PowertoolsTelemetry,
  build: (env: Env) => TokenRuntime,
): TokenDependencies {
  return { runtime: builtAtInit(env, build), telemetry, clock: Date.now, sleep };
}
