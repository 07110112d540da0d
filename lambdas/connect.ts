/** Lambda entry for GET /connect. Loads no HTTP client: the redirect is built, not fetched. */
import { awsBaseRuntime, awsDependencies } from './handlers/aws-runtime';
import { awsPageSettings, awsTelemetry } from './handlers/aws-settings';
import { createConnectHandler } from './handlers/factories';

const telemetry = awsTelemetry(process.env);
export const handler = createConnectHandler(
  awsDependencies(process.env, telemetry, awsBaseRuntime),
  telemetry,
  awsPageSettings(process.env),
);
