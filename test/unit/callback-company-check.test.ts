/**
 * docs/security.md B6 and the storage gaps around it: the callback proves the company with the new
 * token before storing anything, never revokes, and never answers an outcome the ledger could
 * contradict. Also the replay and credential details that came with it (A2, C8, G5).
 */
import type { Connection } from '../../lambdas/core/connection-store';
import { CredentialsUnavailableError } from '../../lambdas/core/errors';
import { expiredFlowCookie, flowCookieName } from '../../lambdas/core/flow-cookie';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import { callbackRoute } from '../../lambdas/handlers/web/browser-routes';
import { connectRoute } from '../../lambdas/handlers/web/browser-routes';
import { COMPANY_NAME } from './fakes/fake-company-info';
import { fail, FAKE_TOKENS, succeed } from './fakes/fake-token-endpoint';
import { FlowHarness, REALM_ID } from './fakes/flow-harness';
import type { StartedFlow } from './fakes/flow-harness';
import { throttled } from './fakes/in-memory-flow-ledger';
import { CREDENTIALS, FakeCredentials } from './fakes/service-config';

const TID = '1-companyinfo-tid-0002';
const VICTIM: Connection = {
  realmId: REALM_ID,
  status: 'ACTIVE',
  version: 1,
  grantedAt: 3,
  connectedAt: 3,
  qboEnvironment: 'sandbox',
  companyName: 'Victim Inc',
  tokens: {
    accessToken: 'victim-access-token',
    refreshToken: 'victim-refresh-token',
    accessTokenExpiresAt: 1,
    refreshTokenExpiresAt: 2,
  },
};

function location(response: HttpResponse): string {
  const value = response.headers['Location'];
  if (value === undefined) throw new Error(`no Location header (status ${response.statusCode})`);
  return value;
}

function expectNothingSecret(h: FlowHarness, flow: StartedFlow, ...responses: HttpResponse[]): void {
  const emitted = [h.telemetry.dump(), ...responses.map((r) => JSON.stringify(r))].join('\n');
  for (const secret of [
    flow.code,
    flow.state,
    FAKE_TOKENS.accessToken,
    FAKE_TOKENS.refreshToken,
    CREDENTIALS.clientSecret,
  ])
    expect(emitted).not.toContain(secret);
}

describe('given a successful exchange, the company is verified before anything is stored (B6)', () => {
  it('B6: checks CompanyInfo once, for the URL realm, with the new access token, and keeps the company name', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();

    const response = await h.callback(flow);

    expect(location(response)).toBe('/outcome/connected');
    expect(h.companyInfo.checks).toEqual([
      { realmId: REALM_ID, accessToken: FAKE_TOKENS.accessToken, timeoutMs: 3000 },
    ]);
    expect(h.ledger.connections.get(REALM_ID)?.companyName).toBe(COMPANY_NAME);
    // The check precedes the one write that stores the tokens.
    expect(h.ledger.calls.map((c) => c.operation)).toEqual([
      'createFlow',
      'claimCode',
      'readFlowTenant',
      'recordConnection',
    ]);
  });

  describe('given the token opens another company (a forged realmId)', () => {
    it('B6: stores nothing, leaves the victim connection untouched, records realm_mismatch and shows the failed page', async () => {
      const h = new FlowHarness({
        companyChecks: [{ kind: 'mismatch', status: 403, faultCode: '003100', intuitTid: TID }],
      });
      h.ledger.connections.set(REALM_ID, VICTIM);
      const flow = await h.startFlow();

      const response = await h.callback(flow);

      expect(response.statusCode).toBe(303);
      expect(location(response)).toMatch(/^\/outcome\/failed\?ref=[A-Z2-9]{8}$/);
      expect(h.ledger.connections.get(REALM_ID)).toBe(VICTIM);
      expect(h.ledger.callsOf('recordConnection')).toHaveLength(0);
      expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
        status: 'FAILED',
        reason: 'realm_mismatch',
      });
      const event = h.telemetry.single('REALM_MISMATCH');
      expect(event.level).toBe('error');
      expect(event.metrics).toEqual(['RealmMismatch']);
      expect(event.fields).toMatchObject({
        faultCode: '003100',
        companyCheckTid: TID,
        httpStatus: 403,
        realmId: REALM_ID,
      });
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expectNothingSecret(h, flow, response);
    });

    it('B6: a replay lands on the same failed page without calling Intuit again', async () => {
      const h = new FlowHarness({ companyChecks: [{ kind: 'mismatch', status: 403, faultCode: '003100' }] });
      const flow = await h.startFlow();
      const first = location(await h.callback(flow));
      expect(location(await h.callback(flow))).toBe(first);
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expect(h.companyInfo.checks).toHaveLength(1);
    });
  });

  describe('given CompanyInfo refuses the token as misconfigured (401 or wrong cluster)', () => {
    it.each([
      { kind: 'misconfigured', status: 401, faultCode: '3200' },
      { kind: 'misconfigured', status: 403, faultCode: '007001' },
    ] as const)(
      'B6: stores nothing, realm_unverified, counts ConfigError and says what to fix (%o)',
      async (answer) => {
        const h = new FlowHarness({ companyChecks: [answer] });
        const flow = await h.startFlow();

        const response = await h.callback(flow);

        expect(location(response)).toMatch(/^\/outcome\/unverified\?ref=[A-Z2-9]{8}$/);
        expect(h.ledger.connections.size).toBe(0);
        expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
          status: 'FAILED',
          reason: 'realm_unverified',
        });
        const event = h.telemetry.single('COMPANY_CHECK_MISCONFIGURED');
        expect(event.metrics).toEqual(['ConfigError']);
        expect(event.message).toContain('QBO_API_BASE_URL https://sandbox-quickbooks.api.intuit.com');
        expect(event.message).toContain("Intuit's sandbox API host");
        expect(event.fields).toMatchObject({ faultCode: answer.faultCode, httpStatus: answer.status });
      },
    );
  });

  describe('given CompanyInfo is unavailable (5xx, 429, timeout, reset)', () => {
    it('B6: stores nothing, realm_unverified, its own metric, and a "try again" page; a replay agrees', async () => {
      const h = new FlowHarness({ companyChecks: [{ kind: 'unavailable', status: 503 }] });
      const flow = await h.startFlow();

      const response = await h.callback(flow);

      const target = location(response);
      expect(target).toMatch(/^\/outcome\/unverified\?ref=[A-Z2-9]{8}$/);
      expect(h.ledger.connections.size).toBe(0);
      expect(h.telemetry.single('COMPANY_CHECK_UNAVAILABLE').metrics).toEqual(['CompanyCheckUnavailable']);
      expect(location(await h.callback(flow))).toBe(target);
      expect(h.companyInfo.checks).toHaveLength(1);
    });

    it('C4: the check is bounded by what the invocation has left, keeping time for the writes', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const query = new URLSearchParams({ code: flow.code, state: flow.state, realmId: REALM_ID }).toString();
      // The exchange takes 4.5 s of a 21 s invocation.
      h.tokenEndpoint.behaviourFor = () => {
        h.clock.advance(4_500);
        return succeed();
      };
      await callbackRoute(
        { method: 'GET', rawQuery: query, cookies: [flow.cookie], deadline: h.clock.now() + 21_000 },
        h.deps,
      );
      // 21 - 4.5 = 16.5 s left; 12 s are kept for the store's three DynamoDB calls.
      expect(h.companyInfo.checks[0]?.timeoutMs).toBe(3_000);
      const tight = new FlowHarness();
      const tightFlow = await tight.startFlow();
      tight.tokenEndpoint.behaviourFor = () => {
        tight.clock.advance(7_000);
        return succeed();
      };
      const tightQuery = new URLSearchParams({
        code: tightFlow.code,
        state: tightFlow.state,
        realmId: REALM_ID,
      }).toString();
      await callbackRoute(
        {
          method: 'GET',
          rawQuery: tightQuery,
          cookies: [tightFlow.cookie],
          deadline: tight.clock.now() + 21_000,
        },
        tight.deps,
      );
      // 21 - 7 = 14 s left: 2 s for the check, 12 s for the writes.
      expect(tight.companyInfo.checks[0]?.timeoutMs).toBe(2_000);
    });
  });
});

describe('given the write of the tokens does not answer (C8, G4)', () => {
  it('C8: when the failure cannot be recorded either, logs TOKEN_STORE_UNCERTAIN and serves the finishing page', async () => {
    const h = new FlowHarness();
    h.ledger.failAlways('recordConnection');
    h.ledger.failAlways('recordFailure');
    const flow = await h.startFlow();

    const response = await h.callback(flow);

    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Finishing your connection');
    expect(response.cookies).toBeUndefined();
    const event = h.telemetry.single('TOKEN_STORE_UNCERTAIN');
    expect(event.metrics).toEqual(['TokenStoreFailed']);
    expect(h.telemetry.codes()).not.toContain('TOKEN_STORE_FAILED');
    expectNothingSecret(h, flow, response);
  });

  it('C8: the lost-acknowledgement sequence: the write landed, nothing answered; the first answer and every replay agree on connected', async () => {
    const h = new FlowHarness({ inFlightWaitMs: 0 });
    const flow = await h.startFlow();
    // Every attempt commits, but its answer is lost; recording the failure fails too, so the
    // callback cannot know. DynamoDB then recovers for the replays.
    const real = h.ledger.recordConnection.bind(h.ledger);
    h.ledger.recordConnection = async (codeHash, connection) => {
      await real(codeHash, connection);
      throw throttled('recordConnection');
    };
    h.ledger.failNext('recordFailure', 1, () => throttled('recordFailure'));

    const first = await h.callback(flow);

    // Not "failed": the tokens are stored, so nothing may say otherwise.
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('Finishing your connection');
    expect(h.ledger.connections.get(REALM_ID)?.tokens?.accessToken).toBe(FAKE_TOKENS.accessToken);
    // The finishing page reloads: the replay reads the ledger and lands on the real outcome.
    const replay = await h.callback(flow);
    expect(location(replay)).toBe('/outcome/connected');
    expect(location(await h.callback(flow))).toBe('/outcome/connected');
    expect(h.tokenEndpoint.exchanges).toHaveLength(1);
  });

  it('C8: when nothing landed, the replays converge on the failed page once the lease passes', async () => {
    const h = new FlowHarness({ inFlightWaitMs: 0 });
    h.ledger.failAlways('recordConnection');
    h.ledger.failNext('recordFailure', 1, () => throttled('recordFailure'));
    const flow = await h.startFlow();
    expect((await h.callback(flow)).statusCode).toBe(200);

    const entry = h.ledger.entries.get(sha256Hex(flow.code));
    h.clock.advance((entry?.leaseUntil ?? 0) - h.clock.now());
    const replay = await h.callback(flow);
    expect(location(replay)).toMatch(/^\/outcome\/failed\?ref=/);
    expect(h.ledger.connections.size).toBe(0);
  });
});

describe('given a duplicate finds the lease passed and DynamoDB does not answer (G3)', () => {
  it('G3: answers the finishing page rather than an outcome the ledger may contradict', async () => {
    const h = new FlowHarness({ script: [{ kind: 'hang' }], inFlightWaitMs: 0 });
    const flow = await h.startFlow();
    await h.crashMidExchange(flow);
    h.ledger.failNext('recordFailure', 1, () => throttled('recordFailure'));

    const replay = await h.callback(flow);

    expect(replay.statusCode).toBe(200);
    expect(replay.body).toContain('Finishing your connection');
    expect(h.telemetry.codes()).toContain('EXCHANGE_LEASE_EXPIRED');
    // Once DynamoDB answers, the next reload records UNKNOWN and lands on the failed page.
    expect(location(await h.callback(flow))).toMatch(/^\/outcome\/failed\?ref=/);
    expect(h.tokenEndpoint.exchanges).toHaveLength(1);
  });
});

describe('given a finished callback is replayed (A2, C2)', () => {
  it('A2: the outcome expires the flow cookie, so spent cookies do not pile up', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    const response = await h.callback(flow);
    expect(response.cookies).toEqual([expiredFlowCookie(flow.state)]);
    expect(expiredFlowCookie(flow.state)).toBe(
      `${flowCookieName(flow.state)}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`,
    );
  });

  it('C2: a replay without the cookie lands on the first outcome with one read and no Intuit call', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    expect(location(await h.callback(flow))).toBe('/outcome/connected');
    const callsBefore = h.ledger.calls.length;

    const replay = await h.callback(flow, { cookies: [] });

    expect(location(replay)).toBe('/outcome/connected');
    expect(h.ledger.calls.slice(callsBefore).map((c) => c.operation)).toEqual(['readEntry']);
    expect(h.tokenEndpoint.exchanges).toHaveLength(1);
    expect(h.telemetry.events.filter((e) => e.code === 'CALLBACK_REPLAYED').at(-1)?.fields).toMatchObject({
      cookieless: true,
    });
  });

  it('C2: a cookieless replay of a failed code shows the same reference', async () => {
    const h = new FlowHarness({ script: [fail('invalid_grant')] });
    const flow = await h.startFlow();
    const first = location(await h.callback(flow));
    expect(location(await h.callback(flow, { cookies: [] }))).toBe(first);
  });

  it('B1: without the cookie, the same code under another state is still refused', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    await h.callback(flow);
    const other = await h.startFlow();
    const response = await h.callback({ ...other, code: flow.code }, { cookies: [] });
    expect(response.statusCode).toBe(400);
    expect(h.tokenEndpoint.exchanges).toHaveLength(1);
  });

  it('B4: a declined callback keeps its cookie, so a replay in the same browser lands on "you cancelled" again', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    const query = new URLSearchParams({ error: 'access_denied', state: flow.state }).toString();
    const response = await h.callback(flow, { query });
    expect(location(response)).toBe('/outcome/cancelled');
    expect(response.cookies).toBeUndefined();
  });

  it('B4: replaying a declined callback logs CALLBACK_REPLAYED, not a second CALLBACK_CANCELLED', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    const query = new URLSearchParams({ error: 'access_denied', state: flow.state }).toString();
    expect(location(await h.callback(flow, { query }))).toBe('/outcome/cancelled');
    expect(location(await h.callback(flow, { query }))).toBe('/outcome/cancelled');
    expect(h.telemetry.codes().filter((c) => c === 'CALLBACK_CANCELLED')).toHaveLength(1);
    expect(h.telemetry.single('CALLBACK_REPLAYED').metrics).toEqual(['CallbackReplayed']);
  });
});

describe('given Intuit says invalid_client', () => {
  it('invalidates the cached credentials so keys rotated at Intuit work on the next request', async () => {
    const h = new FlowHarness({
      script: [fail('invalid_client', { status: 401, oauthError: 'invalid_client' })],
    });
    const flow = await h.startFlow();
    await h.callback(flow);
    expect(h.credentials.invalidations).toBe(1);
  });

  it('does not invalidate for other failures', async () => {
    const h = new FlowHarness({ script: [fail('invalid_grant')] });
    await h.callback(await h.startFlow());
    expect(h.credentials.invalidations).toBe(0);
  });
});

describe('given Secrets Manager is throttled or unavailable (G5)', () => {
  function unavailable(): FakeCredentials {
    return new FakeCredentials(() => {
      throw new CredentialsUnavailableError('secret quickbooks/dev', 'ThrottlingException');
    });
  }

  it('G5: the callback answers "try again" with SecretsUnavailable, not ConfigError, and claims nothing', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    const credentials = unavailable();
    h.useCredentials(credentials);

    const response = await h.callback(flow);

    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('Please try again');
    expect(h.telemetry.single('SECRETS_UNAVAILABLE').metrics).toEqual(['SecretsUnavailable']);
    expect(h.telemetry.metrics()).not.toContain('ConfigError');
    expect(h.ledger.callsOf('claimCode')).toHaveLength(0);
    expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
  });

  it('G5: /connect answers "try again" with SecretsUnavailable and starts no flow', async () => {
    const h = new FlowHarness();
    const credentials = unavailable();
    h.useCredentials(credentials);

    const response = await connectRoute({ method: 'GET' }, h.deps);

    expect(response.statusCode).toBe(503);
    expect(h.telemetry.single('SECRETS_UNAVAILABLE').metrics).toEqual(['SecretsUnavailable']);
    expect(h.telemetry.metrics()).not.toContain('ConfigError');
    expect(h.ledger.callsOf('createFlow')).toHaveLength(0);
  });
});

describe('the ledger keeps codes for 30 days', () => {
  it('claims with a retention of 30 days, so a code from browser history is recognised long after', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    const now = h.clock.now();
    await h.callback(flow);
    const [claim] = h.ledger.callsOf('claimCode')[0] as [{ retainUntil: number }];
    expect(claim.retainUntil).toBe(now + 30 * 24 * 60 * 60 * 1000);
    // Day 29: the code resurfaces with a fresh flow and is refused without an exchange.
    h.clock.advance(29 * 24 * 60 * 60 * 1000);
    const fresh = await h.startFlow();
    const response = await h.callback({ ...fresh, code: flow.code });
    expect(response.statusCode).toBe(400);
    expect(h.tokenEndpoint.exchanges).toHaveLength(1);
  });
});

describe('review findings, pinned', () => {
  it('D5: the grant is timed when Intuit answered the exchange, not after the company check', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();
    const exchangedAt = h.clock.now();
    const check = h.companyInfo.checkCompany.bind(h.companyInfo);
    h.companyInfo.checkCompany = async (realmId, token, timeoutMs) => {
      h.clock.advance(2_500);
      return check(realmId, token, timeoutMs);
    };
    await h.callback(flow);
    const stored = h.ledger.connections.get(REALM_ID);
    expect(stored?.grantedAt).toBe(exchangedAt);
    expect(stored?.tokens?.accessTokenExpiresAt).toBe(exchangedAt + 3600 * 1000);
  });

  it('C2: a cookieless replay sends the browser to the app without the realmId (the app cannot trust it)', async () => {
    const h = new FlowHarness({ config: { appSuccessUrl: 'https://app.example.com/connected' } });
    const flow = await h.startFlow();
    expect(location(await h.callback(flow))).toBe(`https://app.example.com/connected?realmId=${REALM_ID}`);
    expect(location(await h.callback(flow, { cookies: [] }))).toBe('https://app.example.com/connected');
  });

  it('G3: a cookieless replay of an exchange whose lease passed records UNKNOWN and lands on the failed page', async () => {
    const h = new FlowHarness({ script: [{ kind: 'hang' }], inFlightWaitMs: 0 });
    const flow = await h.startFlow();
    await h.crashMidExchange(flow);

    const replay = await h.callback(flow, { cookies: [] });

    expect(location(replay)).toMatch(/^\/outcome\/failed\?ref=/);
    expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
      status: 'UNKNOWN',
      reason: 'lease_expired',
    });
  });
});
