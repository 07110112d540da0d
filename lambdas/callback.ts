/** Lambda entry for GET /callback. */
import type { ConnectorRuntime } from './core/runtime';
import { IntuitCompanyInfoClient } from './adapters/intuit-company-info-client';
import { IntuitTokenClient } from './adapters/intuit-token-client';
import { awsBaseRuntime, awsDependencies } from './handlers/aws-runtime';
import { awsPageSettings, awsTelemetry } from './handlers/aws-settings';
import { createCallbackHandler } from './handlers/factories';

const telemetry = awsTelemetry(process.env);
export const handler = createCallbackHandler(
  awsDependencies(process.env, telemetry, (env): ConnectorRuntime => {
    const base = awsBaseRuntime(env);
    return {
      ...base,
      tokenEndpoint: new IntuitTokenClient({
        tokenEndpoint: base.config.tokenEndpoint,
        redirectUri: base.config.redirectUri,
      }),
      companyInfo: new IntuitCompanyInfoClient({ apiBaseUrl: base.config.qboApiBaseUrl }),
    };
  }),
  telemetry,
  awsPageSettings(process.env),
);
