/**
 * The cookie that binds a flow to the browser that started it (SECURITY.md A2). `__Host-` forces
 * Secure, Path=/ and no Domain; SameSite=Lax because Strict is not sent on the cross-site return
 * from Intuit. The value is the state itself plus the flow's start time: the callback compares the
 * state in the URL with the cookie before touching DynamoDB, so a foreign browser costs nothing.
 * The start time only feeds the `flowAgeMs` log field; expiry is enforced server-side.
 */
import { sameSecret, STATE_PATTERN } from './flow-identifiers';

export const FLOW_COOKIE_NAME = '__Host-qbo_flow';

export function flowCookie(state: string, issuedAt: number, maxAgeSeconds: number): string {
  return `${FLOW_COOKIE_NAME}=${state}.${issuedAt}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/**
 * Finds the flow cookie whose state equals `state` among the request's cookies ("name=value"
 * strings, as API Gateway HTTP APIs deliver them). Returns the flow's start time, or undefined.
 */
export function matchFlowCookie(cookies: readonly string[], state: string): { issuedAt: number } | undefined {
  for (const cookie of cookies) {
    const separator = cookie.indexOf('=');
    if (separator < 0 || cookie.slice(0, separator).trim() !== FLOW_COOKIE_NAME) continue;
    const [cookieState, issuedAtText] = cookie
      .slice(separator + 1)
      .trim()
      .split('.');
    if (cookieState === undefined || !STATE_PATTERN.test(cookieState)) continue;
    if (!sameSecret(cookieState, state)) continue;
    const issuedAt = Number(issuedAtText);
    return { issuedAt: Number.isSafeInteger(issuedAt) ? issuedAt : Number.NaN };
  }
  return undefined;
}
