/**
 * The only place HTTP responses are built, so every response, redirects and errors included,
 * carries the headers of docs/security.md E2.
 */
import type { PageContext, PageKind } from './pages';
import { renderPage, STYLE_HASH } from './pages';

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly cookies?: readonly string[];
  readonly body: string;
}

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${STYLE_HASH}`,
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers for every response. `https` adds HSTS (browsers ignore it over http anyway). */
export function securityHeaders(https: boolean): Record<string, string> {
  return {
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Frame-Options': 'DENY',
    ...(https ? { 'Strict-Transport-Security': 'max-age=63072000; includeSubDomains' } : {}),
  };
}

export function pageResponse(
  statusCode: number,
  kind: PageKind,
  ctx: PageContext,
  https: boolean,
): HttpResponse {
  return {
    statusCode,
    headers: { ...securityHeaders(https), 'Content-Type': 'text/html; charset=utf-8' },
    body: renderPage(kind, ctx),
  };
}

/** 302 (connect -> Intuit) or 303 (callback -> outcome page, E1). The body is empty. */
export function redirectResponse(
  statusCode: 302 | 303,
  location: string,
  https: boolean,
  cookies?: readonly string[],
): HttpResponse {
  return {
    statusCode,
    headers: { ...securityHeaders(https), Location: location },
    ...(cookies !== undefined ? { cookies } : {}),
    body: '',
  };
}
