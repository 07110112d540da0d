/**
 * How the emulator reads requests and writes answers: the body size limit, JSON and HTML answers
 * with Intuit's cache and security headers, redirects back to the app, and Intuit's transaction id.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { URLSearchParams } from 'node:url';

const MAX_BODY_BYTES = 64 * 1024;

/** A request body over the limit; answered with 413 rather than read into memory. */
export class BodyTooLargeError extends Error {}

/** Intuit's per-request transaction id, sent as the `intuit_tid` header and logged with each line. */
export const newIntuitTid = (): string => `1-${randomBytes(12).toString('hex')}`;

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining rather than destroying, so the client still receives the 413.
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new BodyTooLargeError('request body too large'));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** Reads the revocation endpoint's token from either body format Intuit accepts; null when absent. */
export function parseRevokeToken(contentType: string, body: string): string | null {
  let token: unknown;
  if (contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    token = new URLSearchParams(body).get('token');
  } else {
    try {
      const parsed: unknown = JSON.parse(body);
      token = typeof parsed === 'object' && parsed !== null ? (parsed as { token?: unknown }).token : null;
    } catch {
      return null;
    }
  }
  return typeof token === 'string' && token !== '' ? token : null;
}

/** Answers 405 with `Allow` unless the request uses `method`; true when it does. */
export function allowMethod(req: IncomingMessage, res: ServerResponse, method: string): boolean {
  if (req.method === method) return true;
  res.setHeader('Allow', method);
  sendJson(res, 405, { error: 'method_not_allowed' });
  return false;
}

export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json;charset=UTF-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  });
  res.end(payload);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    // No form-action: browsers apply it to the redirect after the form post, which goes to the app.
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  });
  res.end(html);
}

/** An answer with no body, as a successful revocation sends. */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Cache-Control': 'no-store', 'Content-Length': '0' });
  res.end();
}

function appendQuery(base: string, params: URLSearchParams): string {
  if (!base.includes('?')) return `${base}?${params.toString()}`;
  const separator = base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${params.toString()}`;
}

/** Sends the browser back to the app with `params` added to the redirect URI's own query. */
export function redirectWith(res: ServerResponse, redirectUri: string, params: Record<string, string>): void {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    // An absent state stays absent rather than coming back as an empty one.
    if (key === 'state' && value === '') continue;
    query.set(key, value);
  }
  res.writeHead(302, {
    Location: appendQuery(redirectUri, query),
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'Content-Length': '0',
  });
  res.end();
}
