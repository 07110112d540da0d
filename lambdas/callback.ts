/** Lambda entry for GET /callback. */
import { awsDependencies, awsRuntimeParts } from './handlers/aws-runtime';
import { awsPageSettings, awsTelemetry } from './handlers/aws-settings';
import { awsTokenEncrypter } from './handlers/aws-token-cipher';
import { connectorRuntime } from './handlers/connector-composition';
import { createCallbackHandler } from './handlers/factories';

const telemetry = awsTelemetry(process.env);
export const handler = createCallbackHandler(
  awsDependencies(process.env, telemetry, (env) =>
    connectorRuntime({ ...awsRuntimeParts(env), tokenEncrypter: awsTokenEncrypter(env) }),
  ),
  telemetry,
  awsPageSettings(process.env),
);
