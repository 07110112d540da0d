/** Lambda entry for the app API (`/api/*`, IAM-authorised): access tokens, connections, disconnect. */
import { awsRuntimeParts, awsTokenDependencies } from './handlers/aws-runtime';
import { awsTelemetry } from './handlers/aws-settings';
import { awsTokenCipher } from './handlers/aws-token-cipher';
import { tokenRuntime } from './handlers/token-composition';
import { createApiHandler } from './handlers/token-factories';

const telemetry = awsTelemetry(process.env);
export const handler = createApiHandler(
  awsTokenDependencies(process.env, telemetry, (env) =>
    tokenRuntime({ ...awsRuntimeParts(env), tokenCipher: awsTokenCipher(env) }),
  ),
  telemetry,
);
