/**
 * The cookie that binds a flow to the browser that started it (docs/security.md A2). `__Host-` forces
 * Secure, Path=/ and no Domain; SameSite=Lax because Strict is not sent on the cross-site return
 * from Intuit. The value is the state itself plus the flow's start time: the callback compares the
 * state in the URL with the cookie before touching DynamoDB, so a foreign browser costs nothing.
 * The start time only feeds the `flowAgeMs` log field; expiry is enforced server-side.
 *
 * One cookie per flow, named after a prefix of the state's hash: with a single name, a double click
 * on the app's "Connect" link (two /connect responses racing) or a second tab would overwrite the
 * first flow's cookie and strand whichever flow the browser actually follows. Each lives only as
 * long as its flow.
 */
import { sameSecret, sha256Hex, STATE_PATTERN } from './flow-identifiers';

export const FLOW_COOKIE_PREFIX = '__Host-qbo_flow_';

/** The name of the cookie that binds the flow with this state. */
export function flowCookieName(state: string): string {
  return `${FLOW_COOKIE_PREFIX}${sha256Hex(state).slice(0, 16)}`;
}

export function flowCookie(state: string, issuedAt: number, maxAgeSeconds: number): string {
  return `${flowCookieName(state)}=${state}.${issuedAt}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/**
 * Expires a flow's cookie once its callback has an outcome: replays of a finished code are
 * answered from the ledger without it, and spent cookies must not pile up toward the request
 * header limit (10,240 bytes on HTTP APIs) as a user connects again and again.
 */
export function expiredFlowCookie(state: string): string {
  return `${flowCookieName(state)}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/**
 * Finds the flow cookie whose state equals `state` among the request's cookies ("name=value"
 * strings, as API Gateway HTTP APIs deliver them). Returns the flow's start time, or undefined.
 */
export function matchFlowCookie(cookies: readonly string[], state: string): { issuedAt: number } | undefined {
  const name = flowCookieName(state);
  for (const cookie of cookies) {
    const separator = cookie.indexOf('=');
    if (separator < 0 || cookie.slice(0, separator).trim() !== name) continue;
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
