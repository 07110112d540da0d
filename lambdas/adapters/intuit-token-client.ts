/**
 * axios implementation of the TokenEndpoint port: Intuit's token endpoint.
 * One request per exchange with an explicit timeout (C4), Basic auth (C5), the exact configured
 * redirect_uri (A3), no redirects, no proxies, and no automatic retry of a request that may have
 * left the machine (C3). Errors are classified (C7) and never carry the raw axios error enumerably.
 */
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { ClientCredentials } from '../core/config';
import type { TokenEndpoint, TokenSet } from '../core/token-endpoint';
import { parseTokenResponse, safeOauthError, TokenEndpointError } from '../core/token-endpoint';
import {
  createIntuitHttp,
  intuitTidOf,
  loggableTransportCode,
  NEVER_LEFT,
  parseJson,
  transportErrorCode,
} from './intuit-http';

export interface IntuitTokenClientOptions {
  readonly tokenEndpoint: string;
  readonly redirectUri: string;
  /** Injectable for tests. */
  readonly http?: AxiosInstance;
}

export class IntuitTokenClient implements TokenEndpoint {
  private readonly http: AxiosInstance;

  constructor(private readonly options: IntuitTokenClientOptions) {
    this.http = options.http ?? createIntuitHttp();
  }

  async exchangeCode(
    code: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }> {
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.options.redirectUri,
    }).toString();
    const response = await this.post(this.options.tokenEndpoint, body, credentials, timeoutMs, {
      'Content-Type': 'application/x-www-form-urlencoded',
      'x-include-refresh-token-hard-expires-in': 'true',
    });
    const intuitTid = intuitTidOf(response);
    const parsed = parseJson(response.data);
    const details = {
      status: response.status,
      ...(intuitTid !== undefined ? { intuitTid } : {}),
    };
    if (response.status >= 200 && response.status < 300) {
      const tokens = parseTokenResponse(parsed);
      if (tokens === undefined) throw new TokenEndpointError('malformed', details);
      return { tokens, ...(intuitTid !== undefined ? { intuitTid } : {}) };
    }
    const oauthError = safeOauthError(parsed);
    const withError = { ...details, ...(oauthError !== undefined ? { oauthError } : {}) };
    if (response.status >= 500 || response.status === 429)
      throw new TokenEndpointError('ambiguous', withError);
    if (oauthError === 'invalid_grant') throw new TokenEndpointError('invalid_grant', withError);
    if (oauthError === 'invalid_client' || response.status === 401)
      throw new TokenEndpointError('invalid_client', withError);
    if (oauthError !== undefined) throw new TokenEndpointError('oauth_error', withError);
    // A 3xx or an unexplained 4xx: Intuit did not say the code is unused, so it is spent.
    throw new TokenEndpointError('ambiguous', withError);
  }

  /** Sends once; sends a second time only when the first provably never left (docs/design.md invariant 1). */
  private async post(
    url: string,
    body: string,
    credentials: ClientCredentials,
    timeoutMs: number,
    headers: Record<string, string>,
  ): Promise<AxiosResponse<string>> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const remaining = Math.max(1, deadline - Date.now());
      try {
        return await this.http.post<string>(url, body, {
          headers: {
            ...headers,
            Accept: 'application/json',
            Authorization: basicAuthorization(credentials),
          },
          // Both: `timeout` bounds a silent socket, the signal bounds the whole request (C4).
          timeout: remaining,
          signal: AbortSignal.timeout(remaining),
        });
      } catch (error) {
        const transportCode = transportErrorCode(error);
        if (transportCode !== undefined && NEVER_LEFT.has(transportCode)) {
          if (attempt === 1 && deadline - Date.now() > 100) continue;
          throw new TokenEndpointError('unreachable', { transportCode }, error);
        }
        throw new TokenEndpointError(
          'ambiguous',
          { transportCode: loggableTransportCode(transportCode) },
          error,
        );
      }
    }
  }
}

/** C5: credentials only in the Authorization header, over TLS. */
export function basicAuthorization(credentials: ClientCredentials): string {
  return `Basic ${Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`, 'utf8').toString('base64')}`;
}
