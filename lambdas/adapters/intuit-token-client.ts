/**
 * axios implementation of the TokenEndpoint port: Intuit's token and revocation endpoints.
 * One request per exchange with an explicit timeout (C4), Basic auth (C5), the exact configured
 * redirect_uri (A3), no redirects, no proxies, and no automatic retry of a request that may have
 * left the machine (C3). Errors are classified (C7) and never carry the raw axios error enumerably.
 */
import axios from 'axios';
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { ClientCredentials } from '../core/config';
import type { TokenEndpoint, TokenSet } from '../core/token-endpoint';
import { parseTokenResponse, safeOauthError, TokenEndpointError } from '../core/token-endpoint';

/** Transport errors that prove the request never reached a server: safe to send once more. */
const NEVER_LEFT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
/** Transport errors after which the request may have been processed (C3). */
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ERR_CANCELED']);

export interface IntuitTokenClientOptions {
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string;
  readonly redirectUri: string;
  /** Injectable for tests. */
  readonly http?: AxiosInstance;
}

export class IntuitTokenClient implements TokenEndpoint {
  private readonly http: AxiosInstance;

  constructor(private readonly options: IntuitTokenClientOptions) {
    this.http =
      options.http ??
      axios.create({
        maxRedirects: 0,
        proxy: false,
        // Parse JSON ourselves: a body that is not JSON is a classified failure, not an exception.
        responseType: 'text',
        transformResponse: [(data: unknown) => data],
        validateStatus: () => true,
      });
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
    const intuitTid = headerValue(response, 'intuit_tid');
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

  async revoke(token: string, credentials: ClientCredentials, timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.post(
        this.options.revocationEndpoint,
        JSON.stringify({ token }),
        credentials,
        timeoutMs,
        {
          'Content-Type': 'application/json',
        },
      );
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** Sends once; sends a second time only when the first provably never left (DESIGN.md invariant 1). */
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
        const transportCode = errorCode(error);
        if (transportCode !== undefined && NEVER_LEFT.has(transportCode)) {
          if (attempt === 1 && deadline - Date.now() > 100) continue;
          throw new TokenEndpointError('unreachable', { transportCode }, error);
        }
        throw new TokenEndpointError(
          'ambiguous',
          {
            transportCode:
              transportCode !== undefined && TIMEOUT_CODES.has(transportCode)
                ? 'TIMEOUT'
                : (transportCode ?? 'UNKNOWN'),
          },
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

function headerValue(response: AxiosResponse, name: string): string | undefined {
  const value: unknown = response.headers[name];
  return typeof value === 'string' && /^[\w.:-]{1,128}$/.test(value) ? value : undefined;
}

function parseJson(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code)) return code;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error ? errorCode(cause) : undefined;
}
