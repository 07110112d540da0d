/**
 * The callback's runtime: the base one plus Intuit's token endpoint and the company check. Apart
 * from composition.ts so that the connect bundle, which imports that one, loads no HTTP client.
 */
import { IntuitCompanyInfoClient } from '../adapters/intuit-company-info-client';
import { createIntuitHttp } from '../adapters/intuit-http';
import { IntuitTokenClient } from '../adapters/intuit-token-client';
import type { ConnectorRuntime } from '../core/runtime';
import type { TokenEncrypter } from '../core/token-cipher';
import type { RuntimeParts } from './composition';
import { baseRuntime } from './composition';

export function connectorRuntime(
  parts: RuntimeParts & { readonly tokenEncrypter: TokenEncrypter },
): ConnectorRuntime {
  const { config } = parts;
  // One axios instance for both clients: the same settings, built once at init.
  const http = createIntuitHttp();
  return {
    ...baseRuntime(parts),
    tokenEncrypter: parts.tokenEncrypter,
    tokenEndpoint: new IntuitTokenClient({
      tokenEndpoint: config.tokenEndpoint,
      redirectUri: config.redirectUri,
      revocationEndpoint: config.revocationEndpoint,
      http,
    }),
    companyInfo: new IntuitCompanyInfoClient({ apiBaseUrl: config.qboApiBaseUrl, http }),
  };
}
