/**
 * The app API's responses: JSON, never cached, never a cookie (docs/security.md H5). The one place
 * they are built, so every answer, errors included, has the same headers.
 */
import type { HttpResponse } from '../web/http-responses';

/** The error codes of the app API (README "App API"). */
export type ApiErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'connection_not_found'
  | 'reconnect_required'
  | 'temporarily_unavailable'
  | 'not_configured'
  | 'internal_error';

const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
} as const;

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { ...JSON_HEADERS, ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

/** `{"error", "message"}` plus any fields the error carries (a reason, a URL). */
export function apiError(
  statusCode: number,
  error: ApiErrorCode,
  message: string,
  extra: Readonly<Record<string, unknown>> = {},
  headers: Readonly<Record<string, string>> = {},
): HttpResponse {
  return jsonResponse(statusCode, { error, message, ...extra }, headers);
}

/** 204: no body, and no Content-Type to describe one. */
export function noContent(): HttpResponse {
  return {
    statusCode: 204,
    headers: { 'Cache-Control': JSON_HEADERS['Cache-Control'], 'X-Content-Type-Options': 'nosniff' },
    body: '',
  };
}

export function temporarilyUnavailable(retryAfterSeconds: number, message: string): HttpResponse {
  return apiError(503, 'temporarily_unavailable', message, {}, { 'Retry-After': String(retryAfterSeconds) });
}
