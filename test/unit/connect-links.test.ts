/**
 * Signed connect links and signed redirects (A5, I1, I2): the signatures as the README specifies
 * them (recomputed here independently), /connect's refusals before any flow, and the app API's two
 * routes, over the in-memory ledger and fakes.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import type { ConnectLinkKeys } from '../../lambdas/core/connect-links';
import {
  connectLinkSignature,
  deriveConnectLinkKeys,
  mintConnectLink,
  parseConnectLink,
  redirectSignature,
  verifyRedirectQuery,
} from '../../lambdas/core/connect-links';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import type { NewFlow } from '../../lambdas/core/flow-ledger';
import type { BaseRuntime, FlowDependencies, TokenRuntime } from '../../lambdas/core/runtime';
import { StaticConnectLinkKeySource } from '../../lambdas/adapters/secrets-manager-connect-link-key';
import { handleApiRequest } from '../../lambdas/handlers/api/app-api';
import { connectRoute } from '../../lambdas/handlers/web/browser-routes';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import { renderFlowResult } from '../../lambdas/handlers/web/render';
import { CapturingTelemetry } from './fakes/capturing-telemetry';
import { FakeClock } from './fakes/fake-clock';
import { FakeTokenEndpoint } from './fakes/fake-token-endpoint';
import { InMemoryConnectionStore } from './fakes/in-memory-connection-store';
import { InMemoryFlowLedger } from './fakes/in-memory-flow-ledger';
import { FakeCredentials, serviceConfig } from './fakes/service-config';

const SECRET = Buffer.from('a-connect-link-secret-of-at-least-32-characters', 'utf8');
const KEYS = deriveConnectLinkKeys(SECRET);
const OTHER_KEYS = deriveConnectLinkKeys(Buffer.from('another-secret-of-at-least-32-characters!!', 'utf8'));
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const CONNECT_URL = 'https://connect.example.com/connect';
const NONCE = 'AAECAwQFBgcICQoLDA0ODw'; // 16 bytes, base64url

/** The README's formula, computed without the module under test. */
function expectedLinkSignature(secret: Buffer, tenant: string, exp: number, nonce: string): string {
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'qbo-connector connect-link v1', 32));
  return createHmac('sha256', key).update(`v1\n${tenant}\n${exp}\n${nonce}`).digest('base64url');
}

function queryOf(url: string): string {
  return new URL(url).search.slice(1);
}

describe('connect-link signatures (I1)', () => {
  it('I1: signs "v1\\n" + tenant + "\\n" + exp + "\\n" + nonce with HMAC-SHA256 under the HKDF link key, base64url', () => {
    const exp = Math.floor(T0 / 1000) + 300;
    const url = new URL(mintConnectLink(KEYS, CONNECT_URL, 'tenant-a', exp, NONCE));
    expect(`${url.origin}${url.pathname}`).toBe(CONNECT_URL);
    expect([...url.searchParams.keys()]).toEqual(['tenant', 'exp', 'nonce', 'sig']);
    expect(url.searchParams.get('sig')).toBe(expectedLinkSignature(SECRET, 'tenant-a', exp, NONCE));
  });

  it('derives different keys for links and redirects from one secret', () => {
    expect(KEYS.link.equals(KEYS.redirect)).toBe(false);
    expect(KEYS.link.equals(SECRET)).toBe(false);
    expect(KEYS.link).toHaveLength(32);
  });

  it('mints a fresh 16-byte nonce per link', () => {
    const nonces = new Set(
      Array.from({ length: 50 }, () =>
        new URL(mintConnectLink(KEYS, CONNECT_URL, 't', 1)).searchParams.get('nonce'),
      ),
    );
    expect(nonces.size).toBe(50);
    for (const nonce of nonces) expect(Buffer.from(nonce ?? '', 'base64url')).toHaveLength(16);
  });

  it.each([
    ['a missing sig', (q: URLSearchParams) => q.delete('sig')],
    ['a doubled tenant', (q: URLSearchParams) => q.append('tenant', 'b')],
    ['a tenant with a space', (q: URLSearchParams) => q.set('tenant', 'a b')],
    ['a tenant of 129 characters', (q: URLSearchParams) => q.set('tenant', 'x'.repeat(129))],
    ['an exp that is not a number', (q: URLSearchParams) => q.set('exp', '12e4')],
    ['a short nonce', (q: URLSearchParams) => q.set('nonce', 'AAEC')],
    ['a sig with padding', (q: URLSearchParams) => q.set('sig', `${q.get('sig')?.slice(0, 42)}=`)],
  ])('parses %s as malformed', (_label, change) => {
    const query = new URLSearchParams(queryOf(mintConnectLink(KEYS, CONNECT_URL, 'tenant-a', 2_000_000_000)));
    change(query);
    expect(parseConnectLink(query.toString()).kind).toBe('malformed');
  });

  it('parses a query without any link parameter as no link (a plain /connect)', () => {
    expect(parseConnectLink('')).toEqual({ kind: 'none' });
    expect(parseConnectLink('utm_source=mail')).toEqual({ kind: 'none' });
  });
});

describe('signed redirects', () => {
  const ts = Math.floor(T0 / 1000);

  function signedQuery(
    claims: Parameters<typeof redirectSignature>[1],
    keys: ConnectLinkKeys = KEYS,
  ): string {
    const query = new URLSearchParams();
    if (claims.outcome !== 'connected') query.set('outcome', claims.outcome);
    if (claims.realmId !== undefined) query.set('realmId', claims.realmId);
    if (claims.tenantId !== undefined) query.set('tenantId', claims.tenantId);
    if (claims.ref !== undefined) query.set('ref', claims.ref);
    query.set('ts', String(ts));
    query.set('sig', redirectSignature(keys, claims, ts));
    return query.toString();
  }

  it('accepts what the connector signed, with or without the leading "?"', () => {
    const query = signedQuery({ outcome: 'connected', realmId: '9130357712345678', tenantId: 'tenant-a' });
    const expected = {
      valid: true,
      claims: { outcome: 'connected', realmId: '9130357712345678', tenantId: 'tenant-a' },
    };
    expect(verifyRedirectQuery(KEYS, query, T0 + 1000)).toEqual(expected);
    expect(verifyRedirectQuery(KEYS, `?${query}`, T0 + 1000)).toEqual(expected);
  });

  it.each([
    ['another realmId', (q: URLSearchParams) => q.set('realmId', '9130357799999999')],
    ['another tenant', (q: URLSearchParams) => q.set('tenantId', 'tenant-b')],
    ['no tenant', (q: URLSearchParams) => q.delete('tenantId')],
    ['an outcome added', (q: URLSearchParams) => q.set('outcome', 'failed')],
    ['a later ts', (q: URLSearchParams) => q.set('ts', String(ts + 1))],
    ['no sig', (q: URLSearchParams) => q.delete('sig')],
    ['a doubled realmId', (q: URLSearchParams) => q.append('realmId', '9130357712345678')],
  ])('refuses %s', (_label, change) => {
    const query = new URLSearchParams(
      signedQuery({ outcome: 'connected', realmId: '9130357712345678', tenantId: 'tenant-a' }),
    );
    change(query);
    expect(verifyRedirectQuery(KEYS, query.toString(), T0)).toEqual({ valid: false });
  });

  it('refuses a signature older than 10 minutes, and one made with the link key or another secret', () => {
    const claims = { outcome: 'failed', tenantId: 'tenant-a', ref: 'K7PQ2M9X' } as const;
    expect(verifyRedirectQuery(KEYS, signedQuery(claims), T0 + 600_000).valid).toBe(true);
    expect(verifyRedirectQuery(KEYS, signedQuery(claims), T0 + 601_000).valid).toBe(false);
    expect(verifyRedirectQuery(KEYS, signedQuery(claims, OTHER_KEYS), T0).valid).toBe(false);
    const swapped: ConnectLinkKeys = { link: KEYS.redirect, redirect: KEYS.link };
    expect(verifyRedirectQuery(KEYS, signedQuery(claims, swapped), T0).valid).toBe(false);
  });

  it('the callback signs the redirect to the app with realmId, tenantId, ts and sig', () => {
    const settings = { appName: 'Ledgerly', https: true, appSuccessUrl: 'https://app.example/done?x=1' };
    const response = renderFlowResult(
      { kind: 'outcome', outcome: 'connected', realmId: '9130357712345678', tenantId: 'tenant-a' },
      settings,
      (claims) => ({ ts, sig: redirectSignature(KEYS, claims, ts) }),
    );
    const target = new URL(response.headers['Location'] ?? '');
    expect(target.searchParams.get('realmId')).toBe('9130357712345678');
    expect(target.searchParams.get('tenantId')).toBe('tenant-a');
    expect(target.searchParams.get('ts')).toBe(String(ts));
    // The app's own parameter is left as it is and does not disturb the verification.
    expect(target.searchParams.get('x')).toBe('1');
    expect(verifyRedirectQuery(KEYS, target.search, T0)).toMatchObject({ valid: true });
  });
});

class ConnectHarness {
  readonly clock = new FakeClock(T0);
  readonly ledger = new InMemoryFlowLedger();
  readonly telemetry = new CapturingTelemetry();
  readonly credentials = new FakeCredentials();
  config = serviceConfig();
  keys: StaticConnectLinkKeySource | undefined = new StaticConnectLinkKeySource(SECRET);

  get deps(): FlowDependencies<BaseRuntime> {
    return {
      runtime: () => ({
        config: this.config,
        credentials: this.credentials,
        ledger: this.ledger,
        ...(this.keys !== undefined ? { connectLinkKeys: this.keys } : {}),
      }),
      telemetry: this.telemetry,
      clock: this.clock.now,
      sleep: this.clock.sleep,
    };
  }

  connect(rawQuery = ''): Promise<HttpResponse> {
    return connectRoute({ method: 'GET', rawQuery }, this.deps);
  }

  link(tenant = 'tenant-a', lifetimeSeconds = 300, keys: ConnectLinkKeys = KEYS): string {
    return queryOf(
      mintConnectLink(keys, CONNECT_URL, tenant, Math.floor(this.clock.now() / 1000) + lifetimeSeconds),
    );
  }

  refusals(): unknown[] {
    return this.telemetry.events
      .filter((e) => e.code === 'CONNECT_LINK_REFUSED')
      .map((e) => e.fields?.['reason']);
  }
}

function expectRefusalPage(response: HttpResponse): void {
  expect(response.statusCode).toBe(403);
  expect(response.body).toContain('start connecting again there to get a new link');
  expect(response.headers['Location']).toBeUndefined();
  expect(response.cookies ?? []).toEqual([]);
  expect(response.headers['Content-Security-Policy']).toContain("default-src 'none'");
}

describe('/connect with a signed link (A5, I1, I2)', () => {
  it('I2: starts a flow for the tenant, kept with the flow only: neither the cookie nor the URL to Intuit carries it', async () => {
    const h = new ConnectHarness();
    const query = h.link('tenant-a');
    const response = await h.connect(query);
    expect(response.statusCode).toBe(302);
    const [[flow]] = h.ledger.callsOf('createFlow') as [[NewFlow]];
    const nonce = new URLSearchParams(query).get('nonce') ?? '';
    expect(flow).toMatchObject({ tenantId: 'tenant-a', nonce: { hash: sha256Hex(nonce) } });
    expect(response.headers['Location']).not.toContain('tenant-a');
    expect((response.cookies ?? []).join(';')).not.toContain('tenant-a');
    // The nonce itself is stored only as its hash.
    expect(JSON.stringify(h.ledger.calls)).not.toContain(nonce);
  });

  it('I1: a link works once: the second use gets the refusal page and no flow', async () => {
    const h = new ConnectHarness();
    const query = h.link();
    expect((await h.connect(query)).statusCode).toBe(302);
    expectRefusalPage(await h.connect(query));
    expect(h.ledger.states.size).toBe(1);
    expect(h.refusals()).toEqual(['reused']);
  });

  it.each([
    ['a tampered tenant', (q: URLSearchParams) => q.set('tenant', 'tenant-b'), 'bad_signature'],
    [
      'an altered expiry',
      (q: URLSearchParams) => q.set('exp', String(Number(q.get('exp')) + 3600)),
      'bad_signature',
    ],
    ['a malformed sig', (q: URLSearchParams) => q.set('sig', 'not-a-signature'), 'malformed'],
    ['a missing nonce', (q: URLSearchParams) => q.delete('nonce'), 'malformed'],
  ])('I1: refuses %s before any flow or credential read', async (_label, change, reason) => {
    const h = new ConnectHarness();
    const query = new URLSearchParams(h.link());
    change(query);
    expectRefusalPage(await h.connect(query.toString()));
    expect(h.ledger.calls).toEqual([]);
    expect(h.credentials.calls).toBe(0);
    expect(h.refusals()).toEqual([reason]);
  });

  it('I1: refuses an expired link and a link signed with another key', async () => {
    const h = new ConnectHarness();
    const expired = h.link('tenant-a', 60);
    h.clock.advance(60_000);
    expectRefusalPage(await h.connect(expired));
    expectRefusalPage(await h.connect(h.link('tenant-a', 300, OTHER_KEYS)));
    expect(h.refusals()).toEqual(['expired', 'bad_signature']);
    expect(h.ledger.calls).toEqual([]);
  });

  it('A5: when signed links are required, a plain /connect gets the same refusal page', async () => {
    const h = new ConnectHarness();
    h.config = serviceConfig({ requireSignedConnectLinks: true });
    expectRefusalPage(await h.connect());
    expect(h.refusals()).toEqual(['unsigned']);
    expect((await h.connect(h.link())).statusCode).toBe(302);
  });

  it('serves a plain /connect when links are not required, with no tenant on the flow', async () => {
    const h = new ConnectHarness();
    expect((await h.connect()).statusCode).toBe(302);
    const [[flow]] = h.ledger.callsOf('createFlow') as [[NewFlow]];
    expect(flow.tenantId).toBeUndefined();
  });

  it('refuses a signed link when the deployment has no connect-link key', async () => {
    const h = new ConnectHarness();
    h.keys = undefined;
    expectRefusalPage(await h.connect(h.link()));
    expect(h.refusals()).toEqual(['no_key']);
  });
});

describe('the app API: POST /api/connect-links and /api/connect-results/verify', () => {
  const clock = new FakeClock(T0);
  const telemetry = new CapturingTelemetry();
  const runtime = (withKeys = true): TokenRuntime => ({
    config: serviceConfig(),
    credentials: new FakeCredentials(),
    connections: new InMemoryConnectionStore(),
    tokenEndpoint: new FakeTokenEndpoint(),
    revoker: { revoke: async () => ({ kind: 'revoked' }) },
    ...(withKeys ? { connectLinkKeys: new StaticConnectLinkKeySource(SECRET) } : {}),
  });
  const call = (path: string, body: string | undefined, withKeys = true) =>
    handleApiRequest(
      {
        method: 'POST',
        path,
        rawQuery: '',
        ...(body !== undefined ? { body } : {}),
        caller: 'local',
        deadline: T0 + 25_000,
      },
      { runtime: () => runtime(withKeys), telemetry, clock: clock.now, sleep: clock.sleep },
    );

  it("mints a link at the deployment's /connect: 201 {url, expiresAt}, 300 s by default", async () => {
    const response = await call('/api/connect-links', JSON.stringify({ tenantId: 'org_42:user@x' }));
    expect(response.statusCode).toBe(201);
    expect(response.headers['Cache-Control']).toBe('no-store');
    const body = JSON.parse(response.body) as { url: string; expiresAt: string };
    expect(body.expiresAt).toBe(new Date(T0 + 300_000).toISOString());
    const url = new URL(body.url);
    expect(`${url.origin}${url.pathname}`).toBe(CONNECT_URL);
    expect(url.searchParams.get('tenant')).toBe('org_42:user@x');
    expect(url.searchParams.get('exp')).toBe(String(Math.floor(T0 / 1000) + 300));
    const nonce = url.searchParams.get('nonce') ?? '';
    expect(url.searchParams.get('sig')).toBe(
      expectedLinkSignature(SECRET, 'org_42:user@x', Math.floor(T0 / 1000) + 300, nonce),
    );
    expect(
      connectLinkSignature(KEYS, {
        tenantId: 'org_42:user@x',
        exp: Number(url.searchParams.get('exp')),
        nonce,
      }),
    ).toBe(url.searchParams.get('sig'));
  });

  it.each([
    ['no body', undefined],
    ['bad JSON', '{'],
    ['no tenantId', '{}'],
    ['a tenantId with a slash', JSON.stringify({ tenantId: 'a/b' })],
    ['expiresInSeconds 59', JSON.stringify({ tenantId: 't', expiresInSeconds: 59 })],
    ['expiresInSeconds 3601', JSON.stringify({ tenantId: 't', expiresInSeconds: 3601 })],
    ['expiresInSeconds 1.5', JSON.stringify({ tenantId: 't', expiresInSeconds: 1.5 })],
    ['an unknown field', JSON.stringify({ tenantId: 't', returnUrl: 'https://evil.example' })],
  ])('answers 400 invalid_request to %s', async (_label, body) => {
    const response = await call('/api/connect-links', body);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('verifies a signed redirect query, and answers {valid:false} to a tampered one', async () => {
    const ts = Math.floor(T0 / 1000);
    const claims = { outcome: 'connected', realmId: '9130357712345678', tenantId: 'tenant-a' } as const;
    const query = `realmId=9130357712345678&tenantId=tenant-a&ts=${ts}&sig=${redirectSignature(KEYS, claims, ts)}`;
    const valid = await call('/api/connect-results/verify', JSON.stringify({ query }));
    expect(valid.statusCode).toBe(200);
    expect(JSON.parse(valid.body)).toEqual({
      valid: true,
      outcome: 'connected',
      realmId: '9130357712345678',
      tenantId: 'tenant-a',
    });
    const tampered = await call(
      '/api/connect-results/verify',
      JSON.stringify({ query: query.replace('tenant-a', 'tenant-b') }),
    );
    expect(JSON.parse(tampered.body)).toEqual({ valid: false });
    expect(telemetry.events.map((e) => e.code)).toContain('CONNECT_RESULT_REJECTED');
  });

  it('answers 500 not_configured when the deployment has no connect-link key', async () => {
    const response = await call('/api/connect-links', JSON.stringify({ tenantId: 't' }), false);
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'not_configured' });
  });
});
