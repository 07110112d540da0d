/**
 * Parsing of the callback's query string (docs/security.md B2, B3). Works on the raw query string
 * because API Gateway joins repeated parameters with commas in `queryStringParameters`, which
 * would hide a doubled `code` or `state`.
 */
import { STATE_PATTERN } from './flow-identifiers';
import { REALM_ID_PATTERN } from './flow-identifiers';
import { OAUTH_ERROR_PATTERN } from './token-endpoint';

export type CallbackInput =
  | {
      readonly kind: 'code';
      readonly code: string;
      readonly state: string | undefined;
      readonly realmId: string;
    }
  | { readonly kind: 'error'; readonly error: string; readonly state: string | undefined }
  | { readonly kind: 'invalid'; readonly reason: InvalidReason };

export type InvalidReason =
  | 'query_too_long'
  | 'duplicate_parameter'
  | 'malformed_code'
  | 'malformed_state'
  | 'malformed_realm_id'
  | 'malformed_error'
  | 'missing_code'
  | 'missing_realm_id'
  | 'code_and_error';

/** Intuit's query is a few hundred bytes; 4 KiB is generous and keeps a 1 MB query from costing anything. */
const MAX_QUERY_LENGTH = 4096;
/**
 * RFC 6749 §A.11 allows any printable ASCII; Intuit's codes are alphanumeric. Allowing only the
 * characters of token alphabets (base64, base64url, JWT) keeps markup and quotes out entirely.
 */
const CODE_PATTERN = /^[A-Za-z0-9._~+/=-]{1,512}$/;
/** OAuth error codes are short tokens (access_denied, invalid_scope, server_error); nothing else is trusted. */
const ERROR_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const CHECKED = ['code', 'state', 'realmId', 'error'] as const;

export function parseCallbackQuery(rawQuery: string): CallbackInput {
  if (rawQuery.length > MAX_QUERY_LENGTH) return { kind: 'invalid', reason: 'query_too_long' };
  const params = new URLSearchParams(rawQuery);
  for (const name of CHECKED) {
    if (params.getAll(name).length > 1) return { kind: 'invalid', reason: 'duplicate_parameter' };
  }
  // Non-UTF-8 percent-encodings decode to U+FFFD, which the ASCII patterns below refuse.
  const code = params.get('code') ?? undefined;
  const state = params.get('state') ?? undefined;
  const realmId = params.get('realmId') ?? undefined;
  const error = params.get('error') ?? undefined;

  if (state !== undefined && !STATE_PATTERN.test(state))
    return { kind: 'invalid', reason: 'malformed_state' };
  if (code !== undefined && error !== undefined) return { kind: 'invalid', reason: 'code_and_error' };
  if (error !== undefined) {
    if (!ERROR_PATTERN.test(error)) return { kind: 'invalid', reason: 'malformed_error' };
    return { kind: 'error', error, state };
  }
  if (code === undefined || code === '') return { kind: 'invalid', reason: 'missing_code' };
  if (!CODE_PATTERN.test(code)) return { kind: 'invalid', reason: 'malformed_code' };
  if (realmId === undefined || realmId === '') return { kind: 'invalid', reason: 'missing_realm_id' };
  if (!REALM_ID_PATTERN.test(realmId)) return { kind: 'invalid', reason: 'malformed_realm_id' };
  return { kind: 'code', code, state, realmId };
}

/** Intuit's `error` values are OAuth tokens such as access_denied; anything else is logged as "other". */
export function loggableOauthError(error: string): string {
  return OAUTH_ERROR_PATTERN.test(error) ? error : 'other';
}
