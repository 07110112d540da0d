/**
 * Lambda entry for the app API (`/api/*`, IAM-authorised: access tokens, connections, disconnect)
 * and the Disconnect URL's page (`/disconnect`).
 */
import { awsRuntimeParts, awsTokenDependencies } from './handlers/aws-runtime';
import { awsPageSettings, awsTelemetry } from './handlers/aws-settings';
import { awsTokenCipher } from './handlers/aws-token-cipher';
import { tokenRuntime } from './handlers/token-composition';
import { createTokenFunctionHandler } from './handlers/token-factories';

const telemetry = awsTelemetry(process.env);
export const handler = createTokenFunctionHandler(
  awsTokenDependencies(process.env, telemetry, (env) =>
    tokenRuntime({ ...awsRuntimeParts(env), tokenCipher: awsTokenCipher(env) }),
  ),
  telemetry,
  awsPageSettings(process.env),
);
