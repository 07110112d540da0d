/**
 * axios implementation of the CompanyInfo port: one GET with the new access token, bounded by its
 * own timeout and never retried (docs/security.md B6, C4). The token is only ever in the Authorization
 * header; errors keep nothing of the axios error but its transport code (F2).
 */
import type { AxiosInstance } from 'axios';
import type { CompanyCheck, CompanyInfoEndpoint } from '../core/company-info';
import { classifyCompanyInfo, COMPANY_INFO_MINOR_VERSION } from '../core/company-info';
import {
  createIntuitHttp,
  intuitTidOf,
  loggableTransportCode,
  parseJson,
  transportErrorCode,
} from './intuit-http';

export interface IntuitCompanyInfoClientOptions {
  /** The accounting API host, no path: https://quickbooks.api.intuit.com or the sandbox one. */
  readonly apiBaseUrl: string;
  /** Injectable for tests. */
  readonly http?: AxiosInstance;
}

export class IntuitCompanyInfoClient implements CompanyInfoEndpoint {
  private readonly http: AxiosInstance;

  constructor(private readonly options: IntuitCompanyInfoClientOptions) {
    this.http = options.http ?? createIntuitHttp();
  }

  async checkCompany(realmId: string, accessToken: string, timeoutMs: number): Promise<CompanyCheck> {
    // realmId is digits only (checked at the edge), so it cannot change the path.
    const base = this.options.apiBaseUrl.replace(/\/+$/, '');
    const url = `${base}/v3/company/${realmId}/companyinfo/${realmId}?minorversion=${COMPANY_INFO_MINOR_VERSION}`;
    try {
      const response = await this.http.get<string>(url, {
        headers: { Accept: 'application/json', Authorization: `Bearer ${accessToken}` },
        timeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      return classifyCompanyInfo(response.status, parseJson(response.data), intuitTidOf(response));
    } catch (error) {
      // No retry, not even for "never left": the callback's time is better spent answering.
      return { kind: 'unavailable', transportCode: loggableTransportCode(transportErrorCode(error)) };
    }
  }
}
