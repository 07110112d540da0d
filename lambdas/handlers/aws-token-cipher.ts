/**
 * The token cipher of the Lambda entries: the Encryption SDK with the KMS token key CDK names in
 * TOKEN_KEY_ARN (H3). Apart from aws-runtime.ts so the connect and outcome bundles load no
 * Encryption SDK.
 */
import { kmsTokenCipher, kmsTokenEncrypter } from '../adapters/encryption-sdk-token-cipher';
import { ConfigError } from '../core/errors';
import type { TokenCipher, TokenEncrypter } from '../core/token-cipher';

type Env = Readonly<Record<string, string | undefined>>;

const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[A-Za-z0-9-]+$/;

function keyArnOf(env: Env): { keyArn: string; environment: string } {
  const keyArn = env['TOKEN_KEY_ARN'];
  if (keyArn === undefined || keyArn === '') throw new ConfigError(['TOKEN_KEY_ARN is not set']);
  if (!KEY_ARN.test(keyArn)) throw new ConfigError([`TOKEN_KEY_ARN must be a KMS key ARN, got "${keyArn}"`]);
  return { keyArn, environment: env['APP_ENV'] ?? 'unknown' };
}

/** For the token API and the refresher: their roles may decrypt. */
export function awsTokenCipher(env: Env): TokenCipher {
  return kmsTokenCipher(keyArnOf(env));
}

/** For the callback: encrypt only (kms:GenerateDataKey). */
export function awsTokenEncrypter(env: Env): TokenEncrypter {
  return kmsTokenEncrypter(keyArnOf(env));
}
