/** A valid configuration and credentials for flow tests, with recognisable canary values (F1). */
import type { ClientCredentials, CredentialsSource, ServiceConfig } from '../../../lambdas/core/config';
import { QBO_API_BASE_URLS } from '../../../lambdas/core/company-info';
import { INTUIT_ENDPOINTS } from '../../../lambdas/core/config';

export const REDIRECT_URI = 'https://connect.example.com/callback';

export function serviceConfig(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    appEnv: 'test',
    appName: 'Ledgerly',
    qboEnvironment: 'sandbox',
    redirectUri: REDIRECT_URI,
    scopes: ['com.intuit.quickbooks.accounting'],
    authorizationEndpoint: INTUIT_ENDPOINTS.authorization,
    tokenEndpoint: INTUIT_ENDPOINTS.token,
    revocationEndpoint: INTUIT_ENDPOINTS.revocation,
    qboApiBaseUrl: QBO_API_BASE_URLS.sandbox,
    flowTtlSeconds: 900,
    tokenRequestTimeoutMs: 8000,
    companyCheckTimeoutMs: 3000,
    flowTableName: 'flows',
    connectionTableName: 'connections',
    requireSignedConnectLinks: false,
    ...overrides,
  };
}

export const CREDENTIALS: ClientCredentials = {
  clientId: 'ABcanaryClientId0001',
  clientSecret: 'canary-client-secret-7Q9',
  environment: 'sandbox',
};

export class FakeCredentials implements CredentialsSource {
  calls = 0;
  invalidations = 0;
  constructor(private readonly result: () => ClientCredentials = () => CREDENTIALS) {}
  async get(): Promise<ClientCredentials> {
    this.calls += 1;
    return this.result();
  }
  invalidate(): void {
    this.invalidations += 1;
  }
}
