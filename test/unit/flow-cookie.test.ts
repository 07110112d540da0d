import {
  FLOW_COOKIE_PREFIX,
  flowCookie,
  flowCookieName,
  matchFlowCookie,
} from '../../lambdas/core/flow-cookie';
import { newState } from '../../lambdas/core/flow-identifiers';

interface ParsedCookie {
  name: string;
  value: string;
  attributes: Map<string, string | true>;
}

/** Parses one Set-Cookie header the way RFC 6265 §5.2 does (attribute names are case-insensitive). */
function parseSetCookie(header: string): ParsedCookie {
  const [pair = '', ...attributes] = header.split(';');
  const separator = pair.indexOf('=');
  const parsed: ParsedCookie = {
    name: pair.slice(0, separator).trim(),
    value: pair.slice(separator + 1).trim(),
    attributes: new Map(),
  };
  for (const attribute of attributes) {
    const eq = attribute.indexOf('=');
    if (eq < 0) parsed.attributes.set(attribute.trim().toLowerCase(), true);
    else parsed.attributes.set(attribute.slice(0, eq).trim().toLowerCase(), attribute.slice(eq + 1).trim());
  }
  return parsed;
}

const ISSUED_AT = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('flowCookie', () => {
  const state = newState();
  const cookie = parseSetCookie(flowCookie(state, ISSUED_AT, 900));

  it('A2: has the __Host- prefix, and a name of its own per flow', () => {
    expect(cookie.name).toBe(flowCookieName(state));
    expect(cookie.name).toMatch(/^__Host-qbo_flow_[0-9a-f]{16}$/);
    expect(flowCookieName(newState())).not.toBe(cookie.name);
    expect(cookie.name.startsWith('__Host-')).toBe(true);
  });

  it('A2: is Secure and HttpOnly', () => {
    expect(cookie.attributes.get('secure')).toBe(true);
    expect(cookie.attributes.get('httponly')).toBe(true);
  });

  it('A2: has Path=/ and no Domain (what __Host- requires)', () => {
    expect(cookie.attributes.get('path')).toBe('/');
    expect(cookie.attributes.has('domain')).toBe(false);
  });

  it('A2: is SameSite=Lax, so it comes back on the top-level redirect from Intuit', () => {
    expect(cookie.attributes.get('samesite')).toBe('Lax');
  });

  it('A2: has a short Max-Age equal to the flow lifetime and no Expires', () => {
    expect(cookie.attributes.get('max-age')).toBe('900');
    expect(cookie.attributes.has('expires')).toBe(false);
  });

  it('A2: carries the state itself, so the callback can compare it with the URL without I/O', () => {
    expect(cookie.value).toBe(`${state}.${ISSUED_AT}`);
  });
});

describe('matchFlowCookie', () => {
  const state = newState();
  const NAME = flowCookieName(state);
  const ours = `${NAME}=${state}.${ISSUED_AT}`;

  it('finds the flow cookie among several cookies', () => {
    const other = newState();
    const cookies = ['session=abc', `${flowCookieName(other)}=${other}.1`, ours, 'theme=dark'];
    expect(matchFlowCookie(cookies, state)).toEqual({ issuedAt: ISSUED_AT });
  });

  it('tolerates whitespace around the name and value', () => {
    expect(matchFlowCookie([` ${NAME} = ${state}.${ISSUED_AT} `], state)).toEqual({
      issuedAt: ISSUED_AT,
    });
  });

  it('B1: refuses when the browser has no flow cookie', () => {
    expect(matchFlowCookie([], state)).toBeUndefined();
    expect(matchFlowCookie(['session=abc'], state)).toBeUndefined();
  });

  it('B1: refuses a flow cookie for another state (another browser started this flow)', () => {
    const other = newState();
    expect(matchFlowCookie([`${flowCookieName(other)}=${other}.${ISSUED_AT}`], state)).toBeUndefined();
    // Nor another flow's value under this flow's name.
    expect(matchFlowCookie([`${NAME}=${other}.${ISSUED_AT}`], state)).toBeUndefined();
  });

  it.each([
    ['without the __Host- prefix', `${NAME.slice('__Host-'.length)}=${state}.1`],
    ['with the prefix in another case', `${NAME.replace('__Host-', '__host-')}=${state}.1`],
    ['with a longer name', `${NAME}2=${state}.1`],
    ['with the bare prefix as its name', `${FLOW_COOKIE_PREFIX}=${state}.1`],
    ['with a suffix on the value', `${NAME}=${state}x.1`],
    ['with a truncated value', `${NAME}=${state.slice(0, 42)}.1`],
    ['without a value', NAME],
  ])('B1: refuses a cookie %s', (_label, cookie) => {
    expect(matchFlowCookie([cookie], state)).toBeUndefined();
  });

  it('B1: refuses a URL state that is a prefix of the cookie state', () => {
    expect(matchFlowCookie([ours], state.slice(0, 20))).toBeUndefined();
  });

  it('still matches when the start time is unreadable, reporting it as NaN', () => {
    expect(matchFlowCookie([`${NAME}=${state}.soon`], state)).toEqual({ issuedAt: Number.NaN });
    expect(matchFlowCookie([`${NAME}=${state}`], state)).toEqual({ issuedAt: Number.NaN });
  });

  it('round-trips what flowCookie sets', () => {
    const setCookie = flowCookie(state, ISSUED_AT, 900);
    const sentBack = setCookie.split(';')[0] as string;
    expect(matchFlowCookie([sentBack], state)).toEqual({ issuedAt: ISSUED_AT });
  });
});
