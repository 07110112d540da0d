import fc from 'fast-check';
import { callbackRoute } from '../../lambdas/handlers/web/browser-routes';
import { basicAuthorization } from '../../lambdas/adapters/intuit-token-client';
import { ConfigError } from '../../lambdas/core/errors';
import { flowCookieName } from '../../lambdas/core/flow-cookie';
import { newState, REFERENCE_PATTERN, sha256Hex } from '../../lambdas/core/flow-identifiers';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import type { TokenFailureKind } from '../../lambdas/core/token-endpoint';
import { TokenEndpointError } from '../../lambdas/core/token-endpoint';
import type { Deferred, ExchangeBehaviour } from './fakes/fake-token-endpoint';
import { deferred, fail, FAKE_TOKENS, hang, succeed } from './fakes/fake-token-endpoint';
import { COMPANY_NAME } from './fakes/fake-company-info';
import { FlowHarness, REALM_ID } from './fakes/flow-harness';
import type { StartedFlow } from './fakes/flow-harness';
import { throttled } from './fakes/in-memory-flow-ledger';
import { CREDENTIALS, FakeCredentials } from './fakes/service-config';

/** Longer than any lease the flow may take (C4: a lease must fit inside API Gateway's 30 s). */
const BEYOND_ANY_LEASE_MS = 60_000;

/** Moves the clock to the moment the code's lease passes. */
function passLease(h: FlowHarness, code: string): void {
  const entry = h.ledger.entries.get(sha256Hex(code));
  if (entry === undefined) throw new Error('code not claimed');
  h.clock.advance(entry.leaseUntil - h.clock.now());
}

function location(response: HttpResponse): string {
  const value = response.headers['Location'];
  if (value === undefined) throw new Error(`no Location header (status ${response.statusCode})`);
  return value;
}

function failedRef(response: HttpResponse): string {
  expect(response.statusCode).toBe(303);
  const match = /^\/outcome\/failed\?ref=([A-Z2-9]{8})$/.exec(location(response));
  if (match?.[1] === undefined) throw new Error(`not a failed outcome: ${location(response)}`);
  return match[1];
}

function expectRestartPage(response: HttpResponse): void {
  expect(response.statusCode).toBe(400);
  expect(response.body).toContain('This link has expired or was already used');
  expect(response.body).toContain('href="/connect"');
}

/** F1: nothing secret may appear in anything the flow emitted. */
function expectNoSecrets(h: FlowHarness, flow: StartedFlow, ...responses: HttpResponse[]): void {
  const emitted = [h.telemetry.dump(), ...responses.map((r) => JSON.stringify(r))].join('\n');
  for (const secret of [
    flow.code,
    flow.state,
    FAKE_TOKENS.accessToken,
    FAKE_TOKENS.refreshToken,
    CREDENTIALS.clientSecret,
    basicAuthorization(CREDENTIALS).slice('Basic '.length),
  ]) {
    expect(emitted).not.toContain(secret);
  }
}

describe('handleCallback', () => {
  describe('given a fresh callback from the browser that started the flow', () => {
    it('exchanges the code once, stores the connection and redirects 303 to the success page', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      h.clock.advance(42_000);

      const response = await h.callback(flow);

      expect(response.statusCode).toBe(303);
      expect(location(response)).toBe('/outcome/connected');
      expect(response.body).toBe('');
      expect(h.tokenEndpoint.exchanges).toEqual([
        { code: flow.code, credentials: CREDENTIALS, timeoutMs: 8000 },
      ]);
      expect(h.ledger.connections.get(REALM_ID)).toEqual({
        realmId: REALM_ID,
        status: 'ACTIVE',
        version: 1,
        grantedAt: h.clock.now(),
        connectedAt: h.clock.now(),
        qboEnvironment: 'sandbox',
        companyName: COMPANY_NAME,
        tokens: {
          accessToken: FAKE_TOKENS.accessToken,
          refreshToken: FAKE_TOKENS.refreshToken,
          accessTokenExpiresAt: h.clock.now() + 3600 * 1000,
          refreshTokenExpiresAt: h.clock.now() + 8_726_400 * 1000,
          refreshTokenHardExpiresAt: h.clock.now() + 157_680_000 * 1000,
        },
        tokenExpiry: {
          accessTokenExpiresAt: h.clock.now() + 3600 * 1000,
          refreshTokenExpiresAt: h.clock.now() + 8_726_400 * 1000,
          refreshTokenHardExpiresAt: h.clock.now() + 157_680_000 * 1000,
        },
      });
      expect(h.ledger.entries.get(sha256Hex(flow.code))?.status).toBe('CONNECTED');
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('CONSUMED');
    });

    it('logs CALLBACK_CONNECTED with the CallbackConnected metric and safe diagnostics', async () => {
      const h = new FlowHarness({ script: [succeed('1-abc123')] });
      const flow = await h.startFlow();
      h.clock.advance(42_000);

      await h.callback(flow);

      const event = h.telemetry.single('CALLBACK_CONNECTED');
      expect(event.metrics).toEqual(['CallbackConnected']);
      expect(event.fields).toMatchObject({
        codeHashPrefix: sha256Hex(flow.code).slice(0, 12),
        flowAgeMs: 42_000,
        intuitTid: '1-abc123',
        realmId: REALM_ID,
        storeAttempts: 1,
        clientIdPrefix: CREDENTIALS.clientId.slice(0, 6),
      });
      expect(h.telemetry.timings).toEqual([{ metric: 'TokenExchangeLatency', milliseconds: 0 }]);
    });

    it('E1: redirects to a URL without the code or the state', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const response = await h.callback(flow);
      expect(location(response)).not.toContain(flow.code);
      expect(location(response)).not.toContain(flow.state);
    });

    it('F1: emits no code, state, token, secret or Basic credential in logs or responses', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const first = await h.callback(flow);
      const replay = await h.callback(flow);
      expectNoSecrets(h, flow, first, replay);
    });

    it('C4: claims with a lease that outlives the token request but ends within 30 s, and a reference', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow);
      const [claim] = h.ledger.callsOf('claimCode')[0] as [Record<string, number | string>];
      expect(claim).toMatchObject({
        stateHash: flow.stateHash,
        codeHash: sha256Hex(flow.code),
        realmId: REALM_ID,
        now: h.clock.now(),
      });
      expect(claim['leaseUntil']).toBeGreaterThan(h.clock.now() + h.config.tokenRequestTimeoutMs);
      expect(claim['leaseUntil']).toBeLessThanOrEqual(h.clock.now() + 30_000);
      expect(claim['retainUntil']).toBeGreaterThan(h.clock.now() + h.config.flowTtlSeconds * 1000);
      expect(claim['reference']).toMatch(REFERENCE_PATTERN);
    });

    it('uses at most two ledger round trips in sequence (claim, then store), the tenant read beside the exchange', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const before = h.ledger.calls.length;
      const exchangesBefore = h.tokenEndpoint.exchanges.length;
      let exchangesWhenTenantRead = -1;
      const readFlowTenant = h.ledger.readFlowTenant.bind(h.ledger);
      h.ledger.readFlowTenant = (stateHash) => {
        exchangesWhenTenantRead = h.tokenEndpoint.exchanges.length - exchangesBefore;
        return readFlowTenant(stateHash);
      };
      await h.callback(flow);
      expect(h.ledger.calls.slice(before).map((c) => c.operation)).toEqual([
        'claimCode',
        'readFlowTenant',
        'recordConnection',
      ]);
      // Started before the exchange's answer is awaited, so it costs no round trip in sequence.
      expect(exchangesWhenTenantRead).toBe(0);
    });
  });

  describe('given a replayed callback after success', () => {
    it('C2: redirects to the success page without calling Intuit', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow);

      const replay = await h.callback(flow);

      expect(replay.statusCode).toBe(303);
      expect(location(replay)).toBe('/outcome/connected');
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expect(h.telemetry.single('CALLBACK_REPLAYED').metrics).toEqual(['CallbackReplayed']);
    });

    it('C2: answers a replay with one ledger round trip', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow);
      const before = h.ledger.calls.length;
      await h.callback(flow);
      expect(h.ledger.calls.slice(before).map((c) => c.operation)).toEqual(['claimCode']);
    });

    it('C2: still answers from the ledger long after the flow would have expired', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow);
      h.clock.advance(6 * 60 * 60 * 1000);
      expect(location(await h.callback(flow))).toBe('/outcome/connected');
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
    });
  });

  describe('given a state that cannot be trusted (B1)', () => {
    it('B1: refuses a callback without state, with zero exchanges and no claim', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const response = await h.callback(flow, { query: `code=${flow.code}&realmId=${REALM_ID}` });
      expectRestartPage(response);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.ledger.callsOf('claimCode')).toHaveLength(0);
      expect(h.telemetry.single('STATE_MISSING').metrics).toEqual(['CallbackRejected']);
    });

    it('B1: refuses a browser without the flow cookie and leaves the state PENDING for the right browser', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();

      const foreign = await h.callback(flow, { cookies: ['session=abc'] });

      expectRestartPage(foreign);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      // One read only: is this a finished code's replay? Nothing is claimed or consumed.
      expect(h.ledger.calls.filter((c) => c.operation !== 'createFlow').map((c) => c.operation)).toEqual([
        'readEntry',
      ]);
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
      expect(h.telemetry.single('STATE_COOKIE_MISMATCH').metrics).toEqual(['CallbackRejected']);

      const rightful = await h.callback(flow);
      expect(location(rightful)).toBe('/outcome/connected');
    });

    it("B1: refuses a browser whose flow cookie is for another state (A2's binding)", async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const other = await h.startFlow();
      const response = await h.callback(flow, { cookies: [other.cookie] });
      expectRestartPage(response);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
    });

    it('B1: refuses a state that was never issued, with zero exchanges', async () => {
      const h = new FlowHarness();
      const state = newState();
      const response = await h.request('GET', `code=${h.newCode()}&state=${state}&realmId=${REALM_ID}`, [
        `${flowCookieName(state)}=${state}.${h.clock.now()}`,
      ]);
      expectRestartPage(response);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.telemetry.single('STATE_NOT_FOUND').metrics).toEqual(['CallbackRejected']);
    });

    it('B1: refuses an expired state whose item is still present, with zero exchanges', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      h.clock.advance(900 * 1000);

      const response = await h.callback(flow);

      expectRestartPage(response);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.ledger.states.has(flow.stateHash)).toBe(true);
      expect(h.ledger.entries.size).toBe(0);
      expect(h.telemetry.single('STATE_EXPIRED').metrics).toEqual(['CallbackRejected']);
    });

    it('B1: accepts a state one millisecond before it expires', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      h.clock.advance(900 * 1000 - 1);
      expect(location(await h.callback(flow))).toBe('/outcome/connected');
    });

    it('B1: refuses a state already used by another code, with zero exchanges for the new code', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow);
      const secondCode = h.newCode();

      const response = await h.callback(flow, { code: secondCode });

      expectRestartPage(response);
      expect(h.tokenEndpoint.exchangesOf(secondCode)).toBe(0);
      expect(h.telemetry.single('STATE_ALREADY_USED').fields).toMatchObject({ cancelled: false });
    });

    it('B1: refuses a code callback for a state the user cancelled', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow, { query: `error=access_denied&state=${flow.state}` });
      const response = await h.callback(flow);
      expectRestartPage(response);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.telemetry.single('STATE_ALREADY_USED').fields).toMatchObject({ cancelled: true });
    });

    it('refuses a code already claimed under another state, without sending it again', async () => {
      const h = new FlowHarness();
      const first = await h.startFlow();
      const second = await h.startFlow();
      await h.callback(first);

      const response = await h.callback(second, { code: first.code });

      expectRestartPage(response);
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expect(h.ledger.states.get(second.stateHash)?.status).toBe('PENDING');
      expect(h.telemetry.single('STATE_ALREADY_USED').fields).toMatchObject({ codeReused: true });
    });
  });

  describe('given a malformed query (B2, B3)', () => {
    it.each([
      [
        'a doubled code',
        (f: StartedFlow) => `code=${f.code}&code=other&state=${f.state}&realmId=${REALM_ID}`,
      ],
      [
        'a doubled state',
        (f: StartedFlow) => `code=${f.code}&state=${f.state}&state=${f.state}&realmId=${REALM_ID}`,
      ],
      [
        'a control character in the code',
        (f: StartedFlow) => `code=a%0Ab&state=${f.state}&realmId=${REALM_ID}`,
      ],
      ['a realmId with letters', (f: StartedFlow) => `code=${f.code}&state=${f.state}&realmId=12ab`],
    ])('B2/B3: answers 400 to %s, with no claim and no exchange', async (_label, build) => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const response = await h.callback(flow, { query: build(flow) });
      expect(response.statusCode).toBe(400);
      expect(response.body).toContain('This link is not valid');
      expect(h.ledger.calls.filter((c) => c.operation !== 'createFlow')).toEqual([]);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
      expect(h.telemetry.single('CALLBACK_INVALID_INPUT').metrics).toEqual(['CallbackRejected']);
    });

    it('B3: does not log the raw value', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow, { query: `code=canary%0Avalue&state=${flow.state}&realmId=${REALM_ID}` });
      expect(h.telemetry.dump()).not.toContain('canary');
      expect(h.telemetry.single('CALLBACK_INVALID_INPUT').fields).toEqual({ reason: 'malformed_code' });
    });
  });

  describe('given the user cancelled at Intuit (B4)', () => {
    const cancelQuery = (f: StartedFlow) =>
      `error=access_denied&error_description=%3Cb%3EUser+said+no%3C%2Fb%3E&state=${f.state}`;

    it('B4: consumes the state and redirects 303 to the cancelled page', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();

      const response = await h.callback(flow, { query: cancelQuery(flow) });

      expect(response.statusCode).toBe(303);
      expect(location(response)).toBe('/outcome/cancelled');
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('CANCELLED');
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      const event = h.telemetry.single('CALLBACK_CANCELLED');
      expect(event.metrics).toEqual(['CallbackCancelled']);
      expect(event.fields).toMatchObject({ oauthError: 'access_denied' });
    });

    it('B4: never logs the error_description', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow, { query: cancelQuery(flow) });
      expect(h.telemetry.dump()).not.toContain('said no');
    });

    it('B4: logs an error that is not a plain OAuth error token as "other"', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow, { query: `error=ACCESS.DENIED-canary&state=${flow.state}` });
      expect(h.telemetry.dump()).not.toContain('canary');
      expect(h.telemetry.single('CALLBACK_CANCELLED').fields).toMatchObject({ oauthError: 'other' });
    });

    it('B4: answers a replayed cancellation with the same page', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      await h.callback(flow, { query: cancelQuery(flow) });
      const replay = await h.callback(flow, { query: cancelQuery(flow) });
      expect(location(replay)).toBe('/outcome/cancelled');
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('CANCELLED');
    });

    it('B1: refuses a cancellation without the flow cookie and leaves the state PENDING', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      expectRestartPage(await h.callback(flow, { query: cancelQuery(flow), cookies: [] }));
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
    });

    it('B1: refuses a cancellation of an expired or already used state', async () => {
      const h = new FlowHarness();
      const expired = await h.startFlow(60);
      const used = await h.startFlow();
      await h.callback(used);
      h.clock.advance(61_000);

      expectRestartPage(await h.callback(expired, { query: cancelQuery(expired) }));
      expectRestartPage(await h.callback(used, { query: cancelQuery(used) }));
      expect(h.telemetry.codes()).toEqual(expect.arrayContaining(['STATE_EXPIRED', 'STATE_ALREADY_USED']));
      expect(h.ledger.states.get(used.stateHash)?.status).toBe('CONSUMED');
    });
  });

  describe('given Intuit refuses or fails the exchange (C3, C7, G2)', () => {
    const cases: {
      kind: TokenFailureKind;
      code: string;
      metrics: string[];
      status: 'FAILED' | 'UNKNOWN';
      reason: string;
    }[] = [
      {
        kind: 'invalid_grant',
        code: 'TOKEN_EXCHANGE_INVALID_GRANT',
        metrics: ['TokenExchangeFailed', 'InvalidGrant'],
        status: 'FAILED',
        reason: 'invalid_grant',
      },
      {
        kind: 'invalid_client',
        code: 'TOKEN_EXCHANGE_INVALID_CLIENT',
        metrics: ['TokenExchangeFailed', 'InvalidClient'],
        status: 'FAILED',
        reason: 'invalid_client',
      },
      {
        kind: 'oauth_error',
        code: 'TOKEN_EXCHANGE_REJECTED',
        metrics: ['TokenExchangeFailed'],
        status: 'FAILED',
        reason: 'oauth_error',
      },
      {
        kind: 'ambiguous',
        code: 'TOKEN_EXCHANGE_AMBIGUOUS',
        metrics: ['TokenExchangeFailed', 'TokenExchangeAmbiguous'],
        status: 'UNKNOWN',
        reason: 'ambiguous',
      },
      {
        kind: 'unreachable',
        code: 'TOKEN_EXCHANGE_UNREACHABLE',
        metrics: ['TokenExchangeFailed'],
        status: 'FAILED',
        reason: 'unreachable',
      },
      {
        kind: 'malformed',
        code: 'TOKEN_RESPONSE_MALFORMED',
        metrics: ['TokenExchangeFailed'],
        status: 'FAILED',
        reason: 'malformed_response',
      },
    ];

    describe.each(cases)(
      'given the token endpoint answers $kind',
      ({ kind, code, metrics, status, reason }) => {
        it(`C3/G2: calls Intuit once and redirects 303 to the failed page with a reference`, async () => {
          const h = new FlowHarness({
            script: [fail(kind, { status: 400, intuitTid: '1-tid77', oauthError: kind })],
          });
          const flow = await h.startFlow();

          const response = await h.callback(flow);

          const ref = failedRef(response);
          expect(h.tokenEndpoint.exchanges).toHaveLength(1);
          expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
            status,
            reason,
            reference: ref,
          });
          expect(h.ledger.connections.size).toBe(0);
        });

        it(`C7: logs ${code} with the metrics ${metrics.join(' + ')} and intuit_tid`, async () => {
          const h = new FlowHarness({
            script: [fail(kind, { status: 400, intuitTid: '1-tid77', oauthError: kind })],
          });
          const flow = await h.startFlow();
          const ref = failedRef(await h.callback(flow));

          const event = h.telemetry.single(code as never);
          expect(event.level).toBe('error');
          expect(event.metrics).toEqual(metrics);
          expect(event.fields).toMatchObject({ intuitTid: '1-tid77', httpStatus: 400, reference: ref });
          expect(h.telemetry.codes()).not.toContain('CALLBACK_CONNECTED');
        });

        it('C2: answers a replay with the same failed page and reference, without calling Intuit', async () => {
          const h = new FlowHarness({ script: [fail(kind)] });
          const flow = await h.startFlow();
          const ref = failedRef(await h.callback(flow));

          const replay = await h.callback(flow);

          expect(failedRef(replay)).toBe(ref);
          expect(h.tokenEndpoint.exchanges).toHaveLength(1);
        });
      },
    );

    it('C3: treats an unexpected exception from the token endpoint as ambiguous (the request may have left)', async () => {
      const h = new FlowHarness({ script: [{ kind: 'error', error: new TypeError('socket exploded') }] });
      const flow = await h.startFlow();
      failedRef(await h.callback(flow));
      expect(h.telemetry.single('TOKEN_EXCHANGE_AMBIGUOUS').metrics).toContain('TokenExchangeAmbiguous');
      expect(h.ledger.entries.get(sha256Hex(flow.code))?.status).toBe('UNKNOWN');
      expect(h.telemetry.dump()).not.toContain('socket exploded');
    });

    it('E3: renders no Intuit text anywhere', async () => {
      const h = new FlowHarness({
        script: [
          { kind: 'error', error: new TokenEndpointError('oauth_error', { oauthError: 'invalid_request' }) },
        ],
      });
      const flow = await h.startFlow();
      const response = await h.callback(flow);
      expect(response.body).toBe('');
      expect(location(response)).not.toContain('invalid_request');
    });
  });

  describe('given the claimant crashed mid-exchange (G3)', () => {
    it('G3: a replay after the lease marks the code UNKNOWN and shows the failed page, without calling Intuit', async () => {
      const h = new FlowHarness({ script: [hang()] });
      const flow = await h.startFlow();
      void h.callback(flow);
      await flushAsync();
      expect(h.ledger.entries.get(sha256Hex(flow.code))?.status).toBe('EXCHANGING');
      passLease(h, flow.code);

      const replay = await h.callback(flow);

      const ref = failedRef(replay);
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
        status: 'UNKNOWN',
        reason: 'lease_expired',
        reference: ref,
      });
      expect(h.telemetry.single('EXCHANGE_LEASE_EXPIRED').metrics).toEqual(['TokenExchangeFailed']);
    });

    it('G3: later replays keep the same failed page and reference', async () => {
      const h = new FlowHarness({ script: [hang()] });
      const flow = await h.startFlow();
      void h.callback(flow);
      await flushAsync();
      passLease(h, flow.code);
      h.clock.advance(1);
      const ref = failedRef(await h.callback(flow));
      h.clock.advance(60_000);
      expect(failedRef(await h.callback(flow))).toBe(ref);
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
    });
  });

  describe('given a duplicate callback while the exchange is in flight (C1, C2)', () => {
    it('C2: waits and then redirects to the outcome the claimant reached, without calling Intuit', async () => {
      const pending: Deferred<{ tokens: typeof FAKE_TOKENS }> = deferred();
      const h = new FlowHarness({ script: [{ kind: 'deferred', deferred: pending }] });
      const flow = await h.startFlow();
      const first = h.callback(flow);
      await flushAsync();
      h.clock.onSleep = async () => {
        if (h.clock.sleeps.length === 3) pending.resolve({ tokens: FAKE_TOKENS });
        await flushAsync();
      };

      const duplicate = await h.callback(flow);

      expect(location(duplicate)).toBe('/outcome/connected');
      expect(location(await first)).toBe('/outcome/connected');
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expect(h.clock.sleeps).toHaveLength(3);
    });

    it('C2: waits and then gets the same failed page as the claimant', async () => {
      const pending: Deferred<never> = deferred();
      const h = new FlowHarness({ script: [{ kind: 'deferred', deferred: pending }] });
      const flow = await h.startFlow();
      const first = h.callback(flow);
      await flushAsync();
      h.clock.onSleep = async () => {
        pending.reject(new TokenEndpointError('invalid_grant', {}));
        await flushAsync();
      };

      const duplicate = await h.callback(flow);

      expect(failedRef(duplicate)).toBe(failedRef(await first));
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
    });

    it('C2: serves a 200 "finishing" page that refreshes itself when the wait runs out', async () => {
      const h = new FlowHarness({ script: [hang()], inFlightWaitMs: 1000 });
      const flow = await h.startFlow();
      void h.callback(flow);
      await flushAsync();

      const duplicate = await h.callback(flow);

      expect(duplicate.statusCode).toBe(200);
      expect(duplicate.body).toContain('Finishing your connection');
      expect(duplicate.body).toMatch(/<meta http-equiv="refresh" content="\d+">/);
      expect(duplicate.headers['Cache-Control']).toBe('no-store');
      const waited = h.clock.sleeps.reduce((a, b) => a + b, 0);
      expect(waited).toBeGreaterThanOrEqual(1000);
      expect(waited).toBeLessThan(1500);
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expect(h.telemetry.single('CODE_IN_FLIGHT').level).toBe('info');
    });

    it('C1: twenty concurrent identical callbacks make one token call and all converge', async () => {
      const pending: Deferred<{ tokens: typeof FAKE_TOKENS }> = deferred();
      const h = new FlowHarness({ script: [{ kind: 'deferred', deferred: pending }] });
      const flow = await h.startFlow();
      h.clock.onSleep = async () => {
        // Every waiter's sleep advances the one shared clock, so resolve on the first poll.
        if (h.clock.sleeps.length === 1) pending.resolve({ tokens: FAKE_TOKENS });
        await flushAsync();
      };

      const responses = await Promise.all(Array.from({ length: 20 }, () => h.callback(flow)));

      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expect(new Set(responses.map(location))).toEqual(new Set(['/outcome/connected']));
    });
  });

  describe('given the tokens cannot be stored after a successful exchange (C8, G4)', () => {
    it('C8: never revokes; logs TOKEN_STORE_FAILED and shows the failed page once the failure is recorded', async () => {
      const h = new FlowHarness();
      h.ledger.failAlways('recordConnection');
      const flow = await h.startFlow();

      const response = await h.callback(flow);

      const ref = failedRef(response);
      expect(h.ledger.callsOf('recordConnection').length).toBeGreaterThanOrEqual(2);
      const event = h.telemetry.single('TOKEN_STORE_FAILED');
      expect(event.metrics).toEqual(['TokenStoreFailed']);
      expect(event.fields).toMatchObject({
        awsError: 'ProvisionedThroughputExceededException',
        reference: ref,
      });
      expect(event.fields).not.toHaveProperty('revoked');
      expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
        status: 'FAILED',
        reason: 'token_store_failed',
      });
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      expectNoSecrets(h, flow, response);
    });

    it('C8: backs off between attempts, within the lease', async () => {
      const h = new FlowHarness();
      h.ledger.failAlways('recordConnection');
      const flow = await h.startFlow();
      await h.callback(flow);
      const attempts = h.ledger.callsOf('recordConnection').length;
      expect(h.clock.sleeps).toHaveLength(attempts - 1);
      expect(h.clock.sleeps.every((ms) => ms > 0)).toBe(true);
      expect(h.clock.now()).toBeLessThan(
        (h.ledger.entries.get(sha256Hex(flow.code))?.leaseUntil ?? 0) - 1000,
      );
    });

    it('C8: connects when the write fails once and then succeeds', async () => {
      const h = new FlowHarness();
      h.ledger.failNext('recordConnection', 1, () => throttled('recordConnection'));
      const flow = await h.startFlow();

      const response = await h.callback(flow);

      expect(location(response)).toBe('/outcome/connected');
      expect(h.ledger.connections.has(REALM_ID)).toBe(true);
      expect(h.telemetry.single('CALLBACK_CONNECTED').fields).toMatchObject({ storeAttempts: 2 });
    });

    it('C8: a replay after the failure shows the same failed page without calling Intuit', async () => {
      const h = new FlowHarness();
      h.ledger.failAlways('recordConnection');
      const flow = await h.startFlow();
      const ref = failedRef(await h.callback(flow));
      expect(failedRef(await h.callback(flow))).toBe(ref);
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
    });
  });

  describe('given DynamoDB is throttling (G1)', () => {
    it('G1: answers 503 "try again" when the claim fails, with no exchange and the state still PENDING', async () => {
      const h = new FlowHarness();
      h.ledger.failAlways('claimCode');
      const flow = await h.startFlow();

      const response = await h.callback(flow);

      expect(response.statusCode).toBe(503);
      expect(response.body).toContain('Nothing was sent to QuickBooks');
      expect(response.body).toMatch(/Reference: <code>[A-Z2-9]{8}<\/code>/);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
      const event = h.telemetry.single('STORAGE_UNAVAILABLE');
      expect(event.metrics).toEqual(['StorageUnavailable']);
      expect(event.fields).toMatchObject({
        operation: 'claimCode',
        awsError: 'ProvisionedThroughputExceededException',
      });
    });

    it('G1: lets the user retry the same callback once DynamoDB recovers', async () => {
      const h = new FlowHarness();
      h.ledger.failNext('claimCode', 1, () => throttled('claimCode'));
      const flow = await h.startFlow();
      expect((await h.callback(flow)).statusCode).toBe(503);
      expect(location(await h.callback(flow))).toBe('/outcome/connected');
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
    });

    it('G1: answers 503 when a cancellation cannot be recorded', async () => {
      const h = new FlowHarness();
      h.ledger.failAlways('cancelFlow');
      const flow = await h.startFlow();
      const response = await h.callback(flow, { query: `error=access_denied&state=${flow.state}` });
      expect(response.statusCode).toBe(503);
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
    });

    it('G3: still shows the failed page when the failure itself cannot be recorded', async () => {
      const h = new FlowHarness({ script: [fail('invalid_grant')] });
      h.ledger.failAlways('recordFailure');
      const flow = await h.startFlow();
      failedRef(await h.callback(flow));
      expect(h.telemetry.codes()).toEqual(['TOKEN_EXCHANGE_INVALID_GRANT', 'STORAGE_UNAVAILABLE']);
    });
  });

  describe('given broken configuration (G5)', () => {
    it('G5: answers 503 "not configured" when the credentials are unusable, with no claim and no exchange', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      const credentials = new FakeCredentials(() => {
        throw new ConfigError(['secret quickbooks/dev still holds the placeholder clientId']);
      });
      h.useCredentials(credentials);

      const response = await h.callback(flow);

      expect(response.statusCode).toBe(503);
      expect(response.body).toContain('Connecting to QuickBooks is not available yet');
      expect(h.ledger.callsOf('claimCode')).toHaveLength(0);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
      expect(h.ledger.states.get(flow.stateHash)?.status).toBe('PENDING');
      const event = h.telemetry.single('CONFIG_INVALID');
      expect(event.metrics).toEqual(['ConfigError']);
      expect(event.fields).toMatchObject({
        problems: 'secret quickbooks/dev still holds the placeholder clientId',
      });
    });

    it('G5: answers 503 "not configured" when the runtime cannot be built', async () => {
      const h = new FlowHarness();
      const flow = await h.startFlow();
      h.runtime = () => {
        throw new ConfigError(['QBO_REDIRECT_URI is not set']);
      };

      const response = await h.callback(flow);

      expect(response.statusCode).toBe(503);
      expect(response.body).toContain('not available yet');
      expect(response.headers['Strict-Transport-Security']).toBeDefined();
      expect(h.telemetry.single('CONFIG_INVALID').metrics).toEqual(['ConfigError']);
      expect(h.tokenEndpoint.exchanges).toHaveLength(0);
    });
  });

  describe('given another method than GET (B5)', () => {
    it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])(
      'B5: answers 405 to %s without touching anything',
      async (method) => {
        const h = new FlowHarness();
        const flow = await h.startFlow();
        const response = await h.request(
          method,
          `code=${flow.code}&state=${flow.state}&realmId=${REALM_ID}`,
          [flow.cookie],
        );
        expect(response.statusCode).toBe(405);
        expect(h.ledger.callsOf('claimCode')).toHaveLength(0);
        expect(h.tokenEndpoint.exchanges).toHaveLength(0);
        expect(Object.keys(response.headers).some((k) => k.toLowerCase().startsWith('access-control-'))).toBe(
          false,
        );
      },
    );
  });

  describe('given the token write lands after a replay declared the lease lost', () => {
    it('DESIGN invariant 5: every callback for the code, the first included, ends on the same outcome', async () => {
      // The claimant checks its lease, then its write takes longer than the 1 s margin (SDK retries
      // with a 3 s request timeout); a replay that arrives after leaseUntil marks the code UNKNOWN.
      const h = new FlowHarness();
      const flow = await h.startFlow();
      let replay: Promise<HttpResponse> | undefined;
      const writeLanding = deferred<void>();
      h.ledger.gate = async () => {
        const last = h.ledger.calls.at(-1);
        if (last?.operation === 'recordConnection' && replay === undefined) {
          passLease(h, flow.code);
          replay = callbackRoute({ method: 'GET', rawQuery: queryOf(flow), cookies: [flow.cookie] }, h.deps);
          await replay;
          writeLanding.resolve();
        }
      };

      const first = await h.callback(flow);
      await writeLanding.promise;
      const later = await h.callback(flow);

      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
      const outcomes = [await (replay as Promise<HttpResponse>), first, later].map((r) =>
        location(r).replace(/\?ref=.*/, ''),
      );
      // Today: ['/outcome/failed', '/outcome/connected', '/outcome/connected'].
      expect(outcomes).toEqual([outcomes[0], outcomes[0], outcomes[0]]);
    });
  });
});

describe('handleCallback under random interleavings (property)', () => {
  type Behaviour = 'ok' | 'invalid_grant' | 'ambiguous' | 'hang';
  type Variant = 'same' | 'other-code' | 'cancel' | 'no-cookie';
  type Event = { type: 'callback'; flow: number; variant: Variant } | { type: 'tick'; ms: number };

  const behaviourArb = fc.constantFrom<Behaviour>('ok', 'invalid_grant', 'ambiguous', 'hang');
  const eventArb: fc.Arbitrary<Event> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        type: fc.constant('callback' as const),
        flow: fc.nat(2),
        variant: fc.constantFrom<Variant>('same', 'same', 'same', 'other-code', 'cancel', 'no-cookie'),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ type: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30_000 }) }),
    },
  );

  function behaviourOf(behaviour: Behaviour): ExchangeBehaviour {
    switch (behaviour) {
      case 'ok':
        return succeed();
      case 'hang':
        return hang();
      default:
        return fail(behaviour);
    }
  }

  interface Run {
    readonly h: FlowHarness;
    readonly flows: (StartedFlow & { readonly alt: string })[];
    /** Every answer given during the interleaved phase, keyed by the code it carried. */
    readonly answers: { code: string | undefined; response: HttpResponse }[];
    /** Replays of every claimed code, once everything has settled and every lease has passed. */
    readonly settled: Map<string, HttpResponse[]>;
  }

  async function run(s: fc.Scheduler, behaviours: Behaviour[], events: Event[]): Promise<Run> {
    const h = new FlowHarness({ inFlightWaitMs: 1000 });
    const flows = [];
    for (let i = 0; i < behaviours.length; i++) flows.push({ ...(await h.startFlow()), alt: h.newCode() });
    const byCode = new Map<string, ExchangeBehaviour>();
    flows.forEach((f, i) => {
      const behaviour = behaviourOf(behaviours[i] as Behaviour);
      byCode.set(f.code, behaviour);
      byCode.set(f.alt, behaviour);
    });
    h.tokenEndpoint.behaviourFor = (code) => byCode.get(code) ?? succeed();
    h.ledger.gate = () => s.schedule(Promise.resolve());
    h.clock.onSleep = () => s.schedule(Promise.resolve());

    const answers: Run['answers'] = [];
    for (const event of events) {
      if (event.type === 'tick') {
        void s.schedule(Promise.resolve()).then(() => h.clock.advance(event.ms));
        continue;
      }
      const flow = flows[event.flow % flows.length] as Run['flows'][number];
      const code =
        event.variant === 'other-code' ? flow.alt : event.variant === 'cancel' ? undefined : flow.code;
      const query =
        code === undefined
          ? `error=access_denied&state=${flow.state}`
          : `code=${code}&state=${flow.state}&realmId=${REALM_ID}`;
      const cookies = event.variant === 'no-cookie' ? [] : [flow.cookie];
      void s
        .schedule(Promise.resolve())
        .then(() => h.request('GET', query, cookies))
        .then((response) => answers.push({ code, response }));
    }
    await s.waitIdle();

    // Settle: no more interleaving; every lease has passed (crashed claimants never come back).
    h.ledger.gate = async () => undefined;
    h.clock.onSleep = () => undefined;
    h.clock.advance(BEYOND_ANY_LEASE_MS);
    const settled = new Map<string, HttpResponse[]>();
    for (const flow of flows) {
      for (const code of [flow.code, flow.alt]) {
        if (!h.ledger.entries.has(sha256Hex(code))) continue;
        const replays = [];
        for (let i = 0; i < 2; i++) {
          replays.push(
            await h.request('GET', `code=${code}&state=${flow.state}&realmId=${REALM_ID}`, [flow.cookie]),
          );
        }
        settled.set(code, replays);
      }
    }
    return { h, flows, answers, settled };
  }

  const arbitraries = [
    fc.scheduler(),
    fc.array(behaviourArb, { minLength: 1, maxLength: 3 }),
    fc.array(eventArb, { minLength: 1, maxLength: 14 }),
  ] as const;

  it('C1/C2/C3/G3: never exchanges a code twice, claims one code per state, and settles every replay on one outcome', async () => {
    await fc.assert(
      fc.asyncProperty(...arbitraries, async (s, behaviours, events) => {
        const { h, flows, settled } = await run(s, behaviours, events);

        for (const flow of flows) {
          for (const code of [flow.code, flow.alt])
            expect(h.tokenEndpoint.exchangesOf(code)).toBeLessThanOrEqual(1);
          const claimed = [...h.ledger.entries.values()].filter((e) => e.stateHash === flow.stateHash);
          expect(claimed.length).toBeLessThanOrEqual(1);
          if (h.ledger.states.get(flow.stateHash)?.status === 'CANCELLED') expect(claimed).toEqual([]);
        }
        // Intuit only ever saw codes that won a claim.
        for (const exchange of h.tokenEndpoint.exchanges) {
          expect(h.ledger.entries.has(sha256Hex(exchange.code))).toBe(true);
        }
        for (const [code, replays] of settled) {
          const locations = replays.map(location);
          expect(locations[0]).toMatch(/^\/outcome\/(connected|failed\?ref=[A-Z2-9]{8})$/);
          expect(new Set(locations).size).toBe(1);
          expect(h.ledger.entries.get(sha256Hex(code))?.status).not.toBe('EXCHANGING');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('DESIGN invariant 5: every outcome answered while callbacks interleave is the outcome replays settle on', async () => {
    await fc.assert(
      fc.asyncProperty(...arbitraries, async (s, behaviours, events) => {
        const { answers, settled } = await run(s, behaviours, events);
        for (const { code, response } of answers) {
          if (code === undefined || response.statusCode !== 303) continue;
          const final = settled.get(code)?.[0];
          expect(final).toBeDefined();
          expect(location(response)).toBe(location(final as HttpResponse));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

function queryOf(flow: StartedFlow): string {
  return new URLSearchParams({ code: flow.code, state: flow.state, realmId: REALM_ID }).toString();
}

async function flushAsync(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
