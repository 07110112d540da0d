/**
 * The connect -> consent -> callback flow over HTTP against the local stack: real DynamoDB Local,
 * the Intuit emulator, the same handlers as in Lambda. Counts come from the emulator.
 */
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { flowCookieName } from '../../lambdas/core/flow-cookie';
import { basicAuthorization } from '../../lambdas/adapters/intuit-token-client';
import type { FlowLedger } from '../../lambdas/core/flow-ledger';
import {
  codeOf,
  consent,
  consentedCallback,
  get,
  getFollowingRefresh,
  startFlow,
} from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { CANARY_CLIENT, startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

let output: CapturedOutput;
let stack: TestStack;
const ledgerCalls: string[] = [];
/** DynamoDB requests as sent by the SDK, retries included. */
const dynamoRequests: string[] = [];
/** Every code, state and cookie the browser side saw, for the log canary. */
const seen = new Set<string>();

beforeAll(async () => {
  output = captureOutput();
  stack = await startTestStack({
    wrapLedger: (ledger) => countingLedger(ledger, ledgerCalls),
    onDynamoDbRequest: (command) => dynamoRequests.push(command),
  });
});

afterAll(async () => {
  await stack?.close();
  output?.restore();
});

function remember(url: string, cookie: string): void {
  const params = new URL(url).searchParams;
  for (const name of ['code', 'state']) {
    const value = params.get(name);
    if (value !== null) seen.add(value);
  }
  seen.add(cookie.split('=').slice(1).join('='));
}

async function connectedCallback(): Promise<{ url: string; cookie: string; code: string }> {
  const { url, flow } = await consentedCallback(stack.url, stack.emulator);
  remember(url, flow.cookie);
  return { url, cookie: flow.cookie, code: codeOf(url) };
}

describe('given a user who consents at Intuit', () => {
  it('A2: binds the flow to the browser with a __Host- cookie', async () => {
    const flow = await startFlow(stack.url);
    expect(flow.setCookie).toMatch(/^__Host-qbo_flow_[0-9a-f]{16}=/);
    expect(flow.setCookie).toMatch(/; Secure/);
    expect(flow.setCookie).toMatch(/; HttpOnly/);
    expect(flow.setCookie).toMatch(/; SameSite=Lax/);
    expect(flow.setCookie).toMatch(/; Path=\//);
    expect(flow.setCookie).not.toMatch(/Domain=/i);
    expect(flow.authorizeUrl.searchParams.get('redirect_uri')).toBe(stack.config.redirectUri);
    expect(flow.authorizeUrl.searchParams.get('response_type')).toBe('code');
    expect(flow.authorizeUrl.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('exchanges the code once, stores the tokens and redirects (303) to the success page', async () => {
    const before = stack.emulator.exchangeCount();
    const { url, cookie, code } = await connectedCallback();
    ledgerCalls.length = 0;
    dynamoRequests.length = 0;
    const response = await get(url, cookie);

    expect(response.status).toBe(303);
    expect(response.location).toBe('/outcome/connected');
    expect(stack.emulator.exchangeCount() - before).toBe(1);
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(1);
    // Budget: two DynamoDB round trips in sequence for a first callback (claim, then one write),
    // and the flow's tenant (I2) read while Intuit answers the exchange.
    expect(ledgerCalls).toEqual(['claimCode', 'readFlowTenant', 'recordConnection']);
    expect(dynamoRequests).toEqual([
      'TransactWriteItemsCommand',
      'GetItemCommand',
      'TransactWriteItemsCommand',
    ]);

    const realmId = new URL(url).searchParams.get('realmId') ?? '';
    const connection = await stack.openedConnection(realmId);
    expect(connection?.['accessToken']).toEqual(expect.any(String));
    seen.add(String(connection?.['accessToken']));
    seen.add(String(connection?.['refreshToken']));
    expect(stack.emulator.isAccessTokenActive(String(connection?.['accessToken']))).toBe(true);
    expect(stack.emulator.isRefreshTokenActive(String(connection?.['refreshToken']))).toBe(true);

    const page = await get(`${stack.url}${response.location}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Your QuickBooks company is connected');
  });

  it('E2: answers every response, redirects included, with the security headers', async () => {
    const { url, cookie } = await connectedCallback();
    for (const response of [
      await get(`${stack.url}/connect`),
      await get(url, cookie),
      await get(`${stack.url}/outcome/connected`),
    ]) {
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});

describe('given two flows started in one browser (a double click on Connect, or two tabs)', () => {
  it('A2: each flow has its own cookie, so whichever the browser follows can finish', async () => {
    const first = await startFlow(stack.url);
    const second = await startFlow(stack.url);
    expect(first.cookie.split('=')[0]).not.toBe(second.cookie.split('=')[0]);
    const jar = `${first.cookie}; ${second.cookie}`;
    const secondUrl = await consent(stack.emulator, second);
    const firstUrl = await consent(stack.emulator, first);
    remember(firstUrl, first.cookie);
    remember(secondUrl, second.cookie);
    expect((await get(secondUrl, jar)).location).toBe('/outcome/connected');
    expect((await get(firstUrl, jar)).location).toBe('/outcome/connected');
    expect(stack.emulator.exchangeCount(sha256Hex(codeOf(firstUrl)))).toBe(1);
    expect(stack.emulator.exchangeCount(sha256Hex(codeOf(secondUrl)))).toBe(1);
  });
});

describe('given a callback replayed after success', () => {
  it('C2: redirects to the success page three times without calling Intuit again', async () => {
    const { url, cookie, code } = await connectedCallback();
    expect((await get(url, cookie)).location).toBe('/outcome/connected');
    const realmId = new URL(url).searchParams.get('realmId') ?? '';
    const tokens = await stack.openedConnection(realmId);

    for (let i = 0; i < 3; i++) {
      ledgerCalls.length = 0;
      dynamoRequests.length = 0;
      const replay = await get(url, cookie);
      expect(replay.status).toBe(303);
      expect(replay.location).toBe('/outcome/connected');
      // Budget: a replay is one DynamoDB round trip and no Intuit call.
      expect(ledgerCalls).toEqual(['claimCode']);
      expect(dynamoRequests).toEqual(['TransactWriteItemsCommand']);
    }
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(1);
    // Intuit revokes the first tokens when a code is exchanged twice: they must still be alive.
    expect(stack.emulator.isAccessTokenActive(String(tokens?.['accessToken']))).toBe(true);
  });
});

describe('given 20 concurrent duplicates of one callback', () => {
  it('C1: sends the code to Intuit exactly once and every duplicate lands on the success page', async () => {
    const { url, cookie, code } = await connectedCallback();
    const responses = await Promise.all(Array.from({ length: 20 }, () => getFollowingRefresh(url, cookie)));
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(1);
    for (const response of responses) {
      expect(response.status).toBe(303);
      expect(response.location).toBe('/outcome/connected');
    }
  });
});

describe('given 50 distinct flows, each callback sent 5 times at once', () => {
  it('makes exactly 50 exchanges and connects every flow', async () => {
    const callbacks = await Promise.all(Array.from({ length: 50 }, () => connectedCallback()));
    const before = stack.emulator.exchangeCount();
    const responses = await Promise.all(
      callbacks.flatMap(({ url, cookie }) =>
        Array.from({ length: 5 }, () => getFollowingRefresh(url, cookie)),
      ),
    );
    const outcomes: Record<string, number> = {};
    for (const r of responses)
      outcomes[`${r.status} ${r.location ?? ''}`] = (outcomes[`${r.status} ${r.location ?? ''}`] ?? 0) + 1;
    const storageErrors = output
      .logs()
      .filter((l) => l['code'] === 'STORAGE_UNAVAILABLE')
      .map((l) => l['awsError']);
    expect({ exchanges: stack.emulator.exchangeCount() - before, outcomes, storageErrors }).toEqual({
      exchanges: 50,
      outcomes: { '303 /outcome/connected': 250 },
      storageErrors: [],
    });
    for (const { code } of callbacks) expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(1);
  });
});

describe('given a callback the service must refuse before any exchange', () => {
  it('A2/B1: refuses a browser without the flow cookie, and does not consume the state', async () => {
    const { url, cookie, code } = await connectedCallback();
    const foreign = await get(url);
    expect(foreign.status).toBe(400);
    expect(foreign.body).toContain('This link has expired or was already used');
    expect(foreign.body).toContain('href="/connect"');
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(0);

    // The rightful browser can still finish: the state was not spent by the refusal.
    const rightful = await get(url, cookie);
    expect(rightful.location).toBe('/outcome/connected');
  });

  it('B1: refuses a cookie from another flow (wrong browser)', async () => {
    const { url, code } = await connectedCallback();
    const other = await startFlow(stack.url);
    const response = await get(url, other.cookie);
    expect(response.status).toBe(400);
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(0);
  });

  it('B1: refuses a forged state that was never issued, even with a matching cookie', async () => {
    const forgedState = Buffer.alloc(32, 7).toString('base64url');
    const code = stack.emulator.issueCode({
      clientId: CANARY_CLIENT.clientId,
      redirectUri: stack.config.redirectUri,
    });
    const response = await get(
      `${stack.url}/callback?code=${code}&state=${forgedState}&realmId=123456789012`,
      `${flowCookieName(forgedState)}=${forgedState}.${Date.now()}`,
    );
    expect(response.status).toBe(400);
    expect(response.body).toContain('This link has expired or was already used');
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(0);
  });

  it('B1: refuses a state already used by another code, without calling Intuit', async () => {
    const { url, cookie } = await connectedCallback();
    expect((await get(url, cookie)).location).toBe('/outcome/connected');
    const secondCode = stack.emulator.issueCode({
      clientId: CANARY_CLIENT.clientId,
      redirectUri: stack.config.redirectUri,
    });
    const tampered = new URL(url);
    tampered.searchParams.set('code', secondCode);
    const response = await get(tampered.toString(), cookie);
    expect(response.status).toBe(400);
    expect(stack.emulator.exchangeCount(sha256Hex(secondCode))).toBe(0);
  });

  it.each([
    ['code', (u: URL) => u.searchParams.append('code', 'another')],
    ['state', (u: URL) => u.searchParams.append('state', u.searchParams.get('state') ?? '')],
    ['realmId', (u: URL) => u.searchParams.append('realmId', '1')],
  ])('B2: answers 400 to a doubled %s parameter, claims nothing and calls nobody', async (_name, double) => {
    const { url, cookie, code } = await connectedCallback();
    const doubled = new URL(url);
    double(doubled);
    const response = await get(doubled.toString(), cookie);
    expect(response.status).toBe(400);
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(0);
    expect((await get(url, cookie)).location).toBe('/outcome/connected');
  });

  it.each([
    ['an oversized code', (u: URL) => u.searchParams.set('code', 'A'.repeat(5000))],
    ['a control character in the code', (u: URL) => u.searchParams.set('code', 'abc\u0001def')],
    ['a realmId that is not digits', (u: URL) => u.searchParams.set('realmId', '12ab<script>')],
    ['a malformed state', (u: URL) => u.searchParams.set('state', 'short')],
  ])('B3: answers 400 to %s without calling Intuit', async (_name, spoil) => {
    const { url, cookie, code } = await connectedCallback();
    const spoiled = new URL(url);
    spoil(spoiled);
    const response = await get(spoiled.toString(), cookie);
    expect(response.status).toBe(400);
    expect(response.body).not.toContain('<script>');
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(0);
  });

  it('B5: answers a POST to the callback with 405 and no exchange', async () => {
    const { url, cookie, code } = await connectedCallback();
    const response = await fetch(url, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(response.status).toBe(405);
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(0);
  });
});

describe('given a user who cancels at Intuit', () => {
  it('B4: consumes the state and shows the "you cancelled" page with a reconnect button', async () => {
    const flow = await startFlow(stack.url);
    const url = await consent(stack.emulator, flow, 'deny');
    remember(url, flow.cookie);
    expect(new URL(url).searchParams.get('error')).toBe('access_denied');
    const response = await get(url, flow.cookie);
    expect(response.status).toBe(303);
    expect(response.location).toBe('/outcome/cancelled');
    const page = await get(`${stack.url}/outcome/cancelled`);
    expect(page.body).toContain('You cancelled the connection');
    expect(page.body).toContain('href="/connect"');
    expect((await flowState(flow.state))?.['status']).toBe('CANCELLED');
    // Replays land on the same page.
    expect((await get(url, flow.cookie)).location).toBe('/outcome/cancelled');
  });

  it('B4: never renders error_description', async () => {
    const flow = await startFlow(stack.url);
    const response = await get(
      `${stack.url}/callback?error=access_denied&error_description=%3Cb%3Eevil%3C%2Fb%3E&state=${flow.state}`,
      flow.cookie,
    );
    expect(response.location).toBe('/outcome/cancelled');
    const page = await get(`${stack.url}${response.location}`);
    expect(page.body).not.toContain('evil');
  });
});

describe('given a state whose expiry passed while its item still exists', () => {
  it('B1: refuses it without calling Intuit (expiry is checked in the condition, not left to TTL)', async () => {
    const { url, flow } = await consentedCallback(stack.url, stack.emulator);
    remember(url, flow.cookie);
    await stack.expireFlow(flow.state);
    const item = await flowState(flow.state);
    expect(item?.['status']).toBe('PENDING');
    const exchanges = stack.emulator.exchangeCount();
    const response = await get(url, flow.cookie);
    expect(response.status).toBe(400);
    expect(response.body).toContain('This link has expired or was already used');
    expect(stack.emulator.exchangeCount()).toBe(exchanges);
    expect((await flowState(flow.state))?.['status']).toBe('PENDING');
  });
});

describe('F1: log canary', () => {
  it('never writes a code, state, cookie, token, client secret or Basic credential to the output', async () => {
    const connections = await stack.openedConnections();
    // One company (the emulator's realm), reconnected many times: the latest tokens are here.
    expect(connections).toHaveLength(1);
    const secrets = new Set(seen);
    for (const c of connections) {
      secrets.add(String(c['accessToken']));
      secrets.add(String(c['refreshToken']));
    }
    secrets.add(CANARY_CLIENT.clientSecret);
    secrets.add(basicAuthorization({ ...CANARY_CLIENT, environment: 'sandbox' }).slice('Basic '.length));
    const text = output.text();
    expect(output.logs().length).toBeGreaterThan(100);
    for (const secret of secrets) {
      if (secret.length < 8) continue;
      expect(text.includes(secret)).toBe(false);
    }
    // Nor do the raw query strings appear (they carry the code).
    expect(text).not.toMatch(/[?&]code=/);
  });

  it('logs every refusal with a registered code and a metric', () => {
    const codes = new Set(output.logs().map((l) => l['code']));
    for (const code of [
      'CONNECT_STARTED',
      'CALLBACK_CONNECTED',
      'CALLBACK_REPLAYED',
      'STATE_COOKIE_MISMATCH',
      'STATE_NOT_FOUND',
      'STATE_ALREADY_USED',
      'CALLBACK_INVALID_INPUT',
      'CALLBACK_CANCELLED',
    ]) {
      expect(codes).toContain(code);
    }
    const metrics = new Set(output.metricNames());
    for (const metric of [
      'ConnectStarted',
      'CallbackConnected',
      'CallbackReplayed',
      'CallbackRejected',
      'CallbackCancelled',
    ]) {
      expect(metrics).toContain(metric);
    }
  });
});

async function flowState(state: string): Promise<Record<string, unknown> | undefined> {
  return stack.flowItem(`STATE#${sha256Hex(state)}`);
}

function countingLedger(ledger: FlowLedger, calls: string[]): FlowLedger {
  return {
    createFlow: (flow) => ledger.createFlow(flow),
    claimCode: (claim) => (calls.push('claimCode'), ledger.claimCode(claim)),
    cancelFlow: (stateHash, now) => (calls.push('cancelFlow'), ledger.cancelFlow(stateHash, now)),
    readEntry: (codeHash) => (calls.push('readEntry'), ledger.readEntry(codeHash)),
    readFlowTenant: (stateHash) => (calls.push('readFlowTenant'), ledger.readFlowTenant(stateHash)),
    recordFailure: (codeHash, status, reason) => (
      calls.push('recordFailure'),
      ledger.recordFailure(codeHash, status, reason)
    ),
    recordConnection: (codeHash, connection) => (
      calls.push('recordConnection'),
      ledger.recordConnection(codeHash, connection)
    ),
  };
}
