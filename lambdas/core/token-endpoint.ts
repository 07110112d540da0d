/**
 * The port to Intuit's token endpoint, the errors it can end in, and the check
 * of a token response's shape (C6). The axios adapter implements the port.
 */
import type { ClientCredentials } from './config';
import { safeCause } from './errors';

export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresInSeconds: number;
  readonly refreshTokenExpiresInSeconds: number;
  readonly refreshTokenHardExpiresInSeconds?: number;
}

/**
 * How a token request ended when it did not yield tokens (C7):
 * - invalid_grant / invalid_client / oauth_error: Intuit answered with an OAuth error.
 * - ambiguous: the request may have reached Intuit (timeout, 5xx, 429, reset): the code is spent.
 * - unreachable: the request provably never left (DNS failure, connection refused).
 * - malformed: Intuit answered 2xx with a body that is not a valid token response.
 */
export type TokenFailureKind =
  'invalid_grant' | 'invalid_client' | 'oauth_error' | 'ambiguous' | 'unreachable' | 'malformed';

export class TokenEndpointError extends Error {
  override readonly name = 'TokenEndpointError';
  constructor(
    readonly kind: TokenFailureKind,
    readonly details: {
      readonly status?: number;
      readonly intuitTid?: string;
      /** Intuit's `error` value, only if it is a plain OAuth error token (never free text). */
      readonly oauthError?: string;
      /** A transport error code such as ETIMEDOUT or ECONNRESET. */
      readonly transportCode?: string;
    },
    cause?: unknown,
  ) {
    super(`token endpoint: ${kind}`);
    // Only the class name and code: an AxiosError holds the Authorization header and the body (F2).
    if (cause !== undefined)
      Object.defineProperty(this, 'cause', { value: safeCause(cause), enumerable: false });
  }
}

export interface TokenEndpoint {
  /** Exactly one request; never retried by the adapter except when it provably never left. */
  exchangeCode(
    code: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }>;
  /**
   * One refresh_token request (D3), always asking for the 5-year hard expiry. Never retried by the
   * adapter except when it provably never left: a lost answer may have rotated the token.
   */
  refresh(
    refreshToken: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }>;
}

/** How a revocation ended; it never throws (a failed revoke must not undo a local deletion). */
export type RevokeOutcome =
  | { readonly kind: 'revoked'; readonly intuitTid?: string }
  | {
      readonly kind: 'failed';
      readonly status?: number;
      readonly transportCode?: string;
      readonly intuitTid?: string;
    };

/**
 * The port to Intuit's revocation endpoint, used only when the app disconnects a company (never by
 * the callback, C8): best effort and bounded.
 */
export interface TokenRevoker {
  revoke(refreshToken: string, credentials: ClientCredentials, timeoutMs: number): Promise<RevokeOutcome>;
}

/** OAuth error codes as Intuit sends them (access_denied, invalid_grant); anything else is not logged. */
export const OAUTH_ERROR_PATTERN = /^[a-z_]{1,64}$/;

/** Returns Intuit's `error` if it is a plain OAuth error token; free text is never kept. */
export function safeOauthError(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as Record<string, unknown>)['error'];
  return typeof error === 'string' && OAUTH_ERROR_PATTERN.test(error) ? error : undefined;
}

/** C6: the token response must have the right types and token_type bearer before anything is stored. */
export function parseTokenResponse(body: unknown): TokenSet | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const r = body as Record<string, unknown>;
  const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 8192;
  const seconds = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (typeof r['token_type'] !== 'string' || r['token_type'].toLowerCase() !== 'bearer') return undefined;
  if (!nonEmpty(r['access_token']) || !nonEmpty(r['refresh_token'])) return undefined;
  if (!seconds(r['expires_in']) || !seconds(r['x_refresh_token_expires_in'])) return undefined;
  const hard = r['x_refresh_token_hard_expires_in'];
  return {
    accessToken: r['access_token'],
    refreshToken: r['refresh_token'],
    expiresInSeconds: r['expires_in'],
    refreshTokenExpiresInSeconds: r['x_refresh_token_expires_in'],
    ...(seconds(hard) ? { refreshTokenHardExpiresInSeconds: hard } : {}),
  };
}
