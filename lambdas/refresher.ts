/** Lambda entry for the keep-alive run, invoked by EventBridge Scheduler. */
import { awsRuntimeParts, awsTokenDependencies } from './handlers/aws-runtime';
import { awsTelemetry } from './handlers/aws-settings';
import { awsTokenCipher } from './handlers/aws-token-cipher';
import { tokenRuntime } from './handlers/token-composition';
import { createRefresherHandler } from './handlers/token-factories';

const telemetry = awsTelemetry(process.env);
export const handler = createRefresherHandler(
  awsTokenDependencies(process.env, telemetry, (env) =>
    tokenRuntime({ ...awsRuntimeParts(env), tokenCipher: awsTokenCipher(env) }),
  ),
  telemetry,
);
