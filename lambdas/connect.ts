/** Lambda entry for GET /connect. Loads no HTTP client: the redirect is built, not fetched. */
import { awsDependencies, awsRuntimeParts } from './handlers/aws-runtime';
import { awsPageSettings, awsTelemetry } from './handlers/aws-settings';
import { baseRuntime } from './handlers/composition';
import { createConnectHandler } from './handlers/factories';

const telemetry = awsTelemetry(process.env);
export const handler = createConnectHandler(
  awsDependencies(process.env, telemetry, (env) => baseRuntime(awsRuntimeParts(env))),
  telemetry,
  awsPageSettings(process.env),
);
