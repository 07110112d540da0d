/**
 * The callback plans within its invocation (docs/security.md C4): the exchange is capped to the time
 * left, nothing is claimed when too little is left, the lease covers the invocation, and a newer
 * connection is never overwritten (D5). Also the last resort when Lambda is about to time out.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Connection } from '../../lambdas/core/connection-store';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { createPowertoolsTelemetry } from '../../lambdas/adapters/powertools-telemetry';
import { createCallbackHandler } from '../../lambdas/handlers/factories';
import { succeed } from './fakes/fake-token-endpoint';
import { FlowHarness, REALM_ID } from './fakes/flow-harness';
import { throttled } from './fakes/in-memory-flow-ledger';
import { callbackRoute } from '../../lambdas/handlers/web/browser-routes';

describe('given an invocation deadline', () => {
  it('C4: caps the exchange timeout to what the invocation has left after the token write reserve', async () => {
    const h = new FlowHarness({ script: [succeed()] });
    const flow = await h.startFlow();
    const query = new URLSearchParams({ code: flow.code, state: flow.state, realmId: REALM_ID }).toString();
    const deadline = h.clock.now() + 22_000;
    const response = await callbackRoute(
      { method: 'GET', rawQuery: query, cookies: [flow.cookie], deadline },
      h.deps,
    );
    expect(response.headers['Location']).toBe('/outcome/connected');
    // 22 s left: 15 s are kept for the company check (3 s) and three DynamoDB calls (the token
    // write, marking the code when a newer grant is stored, recording a failure: 4 s each, the
    // SDK's worst case).
    expect(h.tokenEndpoint.exchanges[0]?.timeoutMs).toBe(7_000);
    // The company check gets its configured bound: the reserve above guaranteed it.
    expect(h.companyInfo.checks[0]?.timeoutMs).toBe(3_000);
    // The lease lasts as long as the invocation: no replay can declare a live claimant lost.
    expect(h.ledger.entries.get(sha256Hex(flow.code))?.leaseUntil).toBe(deadline);
  });

  it('C4: claims nothing and calls nobody when too little time is left', async () => {
    const h = new FlowHarness({ script: [succeed()] });
    const flow = await h.startFlow();
    const query = new URLSearchParams({ code: flow.code, state: flow.state, realmId: REALM_ID }).toString();
    const response = await callbackRoute(
      { method: 'GET', rawQuery: query, cookies: [flow.cookie], deadline: h.clock.now() + 19_000 },
      h.deps,
    );
    expect(response.statusCode).toBe(503);
    expect(h.tokenEndpoint.exchanges).toHaveLength(0);
    expect(h.ledger.entries.size).toBe(0);
    expect(h.telemetry.single('TIME_BUDGET_EXHAUSTED').metrics).toEqual(['UnexpectedError']);
    // The state is still usable: the same callback succeeds with time to spare.
    const retry = await callbackRoute({ method: 'GET', rawQuery: query, cookies: [flow.cookie] }, h.deps);
    expect(retry.headers['Location']).toBe('/outcome/connected');
  });
});

describe('given a newer connection for the company was stored first (D5)', () => {
  it('keeps the newer tokens and still answers connected', async () => {
    const h = new FlowHarness({ script: [succeed()] });
    const flow = await h.startFlow();
    const newer = { ...newerConnection(), grantedAt: h.clock.now() + 60_000 };
    h.ledger.connections.set(REALM_ID, newer);
    const response = await h.callback(flow);
    expect(response.headers['Location']).toBe('/outcome/connected');
    expect(h.ledger.connections.get(REALM_ID)).toBe(newer);
    expect(h.telemetry.single('CALLBACK_CONNECTED').fields?.['superseded']).toBe(true);
  });
});

function newerConnection(): Connection {
  return {
    realmId: REALM_ID,
    status: 'ACTIVE',
    version: 1,
    grantedAt: 0,
    connectedAt: 0,
    qboEnvironment: 'sandbox',
    companyName: 'Newer Company',
    tokens: {
      accessToken: 'newer-access',
      refreshToken: 'newer-refresh',
      accessTokenExpiresAt: 0,
      refreshTokenExpiresAt: 0,
    },
  };
}

describe('given Lambda is about to time out mid-callback', () => {
  it('E2: answers with the self-refreshing "finishing" page, not API Gateway\'s bare 500', async () => {
    const h = new FlowHarness();
    // Captured from before the logger exists: its console binds the stream when it is created.
    const writes: string[] = [];
    const capture = (chunk: unknown): boolean => (writes.push(String(chunk)), true);
    const spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation(capture),
      jest.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
    const telemetry = createPowertoolsTelemetry('test');
    const flow = await h.startFlow();
    // Secrets Manager never answers: the flow cannot finish before Lambda's end.
    h.runtime = () => ({
      config: h.config,
      credentials: { get: () => new Promise(() => undefined), invalidate: () => undefined },
      ledger: h.ledger,
      tokenEndpoint: h.tokenEndpoint,
      companyInfo: h.companyInfo,
      tokenEncrypter: h.tokenEncrypter,
    });
    const handler = createCallbackHandler(
      { ...h.deps, clock: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      telemetry,
      { appName: 'Test app', https: true },
    );
    const query = new URLSearchParams({ code: flow.code, state: flow.state, realmId: REALM_ID }).toString();
    const event = {
      version: '2.0',
      routeKey: 'GET /callback',
      rawPath: '/callback',
      rawQueryString: query,
      cookies: [flow.cookie],
      headers: {},
      requestContext: { http: { method: 'GET', path: '/callback' } },
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    const endsAt = Date.now() + 1_200;
    const context = {
      functionName: 'callback',
      awsRequestId: 'r',
      getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
    } as unknown as Context;
    try {
      const result = await handler(event, context);
      expect(result.statusCode).toBe(200);
      expect(result.body).toContain('Finishing your connection');
      expect(result.body).toContain('http-equiv="refresh"');
      expect(result.headers?.['Cache-Control']).toBe('no-store');
      expect(result.headers?.['Content-Security-Policy']).toContain("default-src 'none'");
      // Invariant 6: one log line with a registered code and a metric.
      expect(writes.join('')).toMatch(/"code":"INVOCATION_TIMEOUT"/);
      expect(writes.join('')).toMatch(/"UnexpectedError"/);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});

describe('given a token write that landed although its answer was lost (C8, invariant 5)', () => {
  it('finds the code CONNECTED when recording the failure, keeps the tokens and answers connected', async () => {
    const h = new FlowHarness({ script: [succeed()] });
    const flow = await h.startFlow();
    // Every attempt commits, but the caller only ever sees a storage error.
    const real = h.ledger.recordConnection.bind(h.ledger);
    h.ledger.recordConnection = async (codeHash, connection) => {
      await real(codeHash, connection);
      throw throttled('recordConnection');
    };
    const response = await h.callback(flow);
    expect(response.headers['Location']).toBe('/outcome/connected');
    expect(h.telemetry.single('CALLBACK_CONNECTED').fields?.['lateCommit']).toBe(true);
    expect(h.ledger.entries.get(sha256Hex(flow.code))?.status).toBe('CONNECTED');
    // Replays agree.
    expect((await h.callback(flow)).headers['Location']).toBe('/outcome/connected');
  });
});
