/**
 * axios implementation of the TokenEndpoint port: Intuit's token endpoint.
 * One request per exchange or refresh with an explicit timeout (C4), Basic auth (C5), the exact configured
 * redirect_uri (A3), no redirects, no proxies, and no automatic retry of a request that may have
 * left the machine (C3). Errors are classified (C7) and never carry the raw axios error enumerably.
 */
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { ClientCredentials } from '../core/config';
import { INTUIT_ENDPOINTS } from '../core/config';
import type { RevokeOutcome, TokenEndpoint, TokenRevoker, TokenSet } from '../core/token-endpoint';
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
  /** Intuit's revocation endpoint (the same for sandbox and production). @default Intuit's */
  readonly revocationEndpoint?: string;
  /** Injectable for tests. */
  readonly http?: AxiosInstance;
}

export class IntuitTokenClient implements TokenEndpoint, TokenRevoker {
  private readonly http: AxiosInstance;

  constructor(private readonly options: IntuitTokenClientOptions) {
    this.http = options.http ?? createIntuitHttp();
  }

  async exchangeCode(
    code: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }> {
    return this.tokenRequest(
      { grant_type: 'authorization_code', code, redirect_uri: this.options.redirectUri },
      credentials,
      timeoutMs,
    );
  }

  async refresh(
    refreshToken: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }> {
    return this.tokenRequest(
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      credentials,
      timeoutMs,
    );
  }

  /** One token request, its answer classified (C7). The same rules for a code and a refresh token. */
  private async tokenRequest(
    form: Record<string, string>,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }> {
    const body = new URLSearchParams(form).toString();
    const response = await this.post(this.options.tokenEndpoint, body, credentials, timeoutMs, {
      'Content-Type': 'application/x-www-form-urlencoded',
      // Always: the 5-year cap is only reported when asked for, and it is stored (D3).
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
    // A 3xx or an unexplained 4xx: Intuit did not say the grant is unused, so it may be spent.
    throw new TokenEndpointError('ambiguous', withError);
  }

  /**
   * D7: revokes a refresh token (the app disconnected the company). One request, bounded, never
   * thrown: a failed revoke is reported, the local deletion it follows stands.
   */
  async revoke(
    refreshToken: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<RevokeOutcome> {
    try {
      const response = await this.post(
        this.options.revocationEndpoint ?? INTUIT_ENDPOINTS.revocation,
        JSON.stringify({ token: refreshToken }),
        credentials,
        timeoutMs,
        { 'Content-Type': 'application/json' },
      );
      const intuitTid = intuitTidOf(response);
      const tid = intuitTid !== undefined ? { intuitTid } : {};
      if (response.status >= 200 && response.status < 300) return { kind: 'revoked', ...tid };
      return { kind: 'failed', status: response.status, ...tid };
    } catch (error) {
      const transportCode = error instanceof TokenEndpointError ? error.details.transportCode : undefined;
      return { kind: 'failed', ...(transportCode !== undefined ? { transportCode } : {}) };
    }
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
