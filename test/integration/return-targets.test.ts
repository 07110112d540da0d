/**
 * No open redirect (docs/security.md A4), over HTTP against the local stack: where a browser goes after
 * the callback is configuration (APP_SUCCESS_URL, APP_FAILURE_URL), and the redirect URI sent to
 * Intuit is configuration too (A3). Whatever return target or redirect URI an attacker puts on
 * /connect or /callback is ignored, and never appears in a Location or a cookie.
 */
import { consent, get, startFlow } from '../support/http-flow';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const SUCCESS = 'https://app.example.com/quickbooks/connected';
const FAILURE = 'https://app.example.com/quickbooks/problem';
const EVIL = 'https://evil.example/steal';
const HOSTILE = new URLSearchParams({
  return_to: EVIL,
  returnTo: EVIL,
  next: '//evil.example/steal',
  redirect: EVIL,
  redirect_uri: EVIL,
  success_url: EVIL,
}).toString();

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { APP_SUCCESS_URL: SUCCESS, APP_FAILURE_URL: FAILURE } });
});

afterAll(async () => {
  await stack?.close();
});

function expectNoEvil(...values: Array<string | undefined>): void {
  for (const value of values) expect(value ?? '').not.toContain('evil.example');
}

describe('given return targets and redirect URIs in the request', () => {
  it('A4/A3: /connect ignores them: the authorize redirect carries the configured redirect URI only', async () => {
    const response = await get(`${stack.url}/connect?${HOSTILE}`);

    expect(response.status).toBe(302);
    const authorize = new URL(response.location ?? '');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${stack.url}/callback`);
    expect(authorize.searchParams.getAll('redirect_uri')).toHaveLength(1);
    expectNoEvil(response.location, ...response.setCookies, response.body);
  });

  it('A4: a connected browser lands on the configured success URL, whatever the callback query adds', async () => {
    const flow = await startFlow(stack.url);
    const callbackUrl = await consent(stack.emulator, flow);

    const response = await get(`${callbackUrl}&${HOSTILE}`, flow.cookie);

    expect(response.status).toBe(303);
    const landed = new URL(response.location ?? '');
    expect(landed.origin + landed.pathname).toBe(SUCCESS);
    expectNoEvil(response.location, ...response.setCookies, response.body);
  });

  it('A4: a cancelled flow lands on the configured failure URL, whatever the callback query adds', async () => {
    const flow = await startFlow(stack.url);
    const cancelUrl = await consent(stack.emulator, flow, 'deny');

    const response = await get(`${cancelUrl}&${HOSTILE}`, flow.cookie);

    expect(response.status).toBe(303);
    const landed = new URL(response.location ?? '');
    expect(landed.origin + landed.pathname).toBe(FAILURE);
    expect(landed.searchParams.get('outcome')).toBe('cancelled');
    expectNoEvil(response.location, ...response.setCookies, response.body);
  });
});
