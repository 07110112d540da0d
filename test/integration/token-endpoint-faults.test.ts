/**
 * What happens when Intuit says no or says nothing (docs/security.md C3, C7, G2): one exchange, a
 * terminal outcome for the code, a clear page, one log line with a registered code and a metric,
 * and replays that never call Intuit again.
 */
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { basicAuthorization } from '../../lambdas/adapters/intuit-token-client';
import type { Fault } from '../../local/intuit-emulator';
import { codeOf, consentedCallback, get } from '../support/http-flow';
import type { HttpResult } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { CANARY_CLIENT, startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

let output: CapturedOutput;
let stack: TestStack;
const seen = new Set<string>();

beforeAll(async () => {
  output = captureOutput();
  // A short token timeout so that "hang" ends quickly; the code lifetime is the emulator's default.
  stack = await startTestStack({ env: { TOKEN_REQUEST_TIMEOUT_MS: '1000' } });
});

afterAll(async () => {
  await stack?.close();
  output?.restore();
});

beforeEach(() => stack.emulator.clearFault());

interface Attempt {
  readonly response: HttpResult;
  readonly code: string;
  readonly url: string;
  readonly cookie: string;
}

async function callbackUnder(fault: Fault | undefined): Promise<Attempt> {
  const { url, flow } = await consentedCallback(stack.url, stack.emulator);
  seen.add(codeOf(url));
  seen.add(flow.state);
  if (fault !== undefined) stack.emulator.setFault(fault);
  const response = await get(url, flow.cookie);
  stack.emulator.clearFault();
  return { response, code: codeOf(url), url, cookie: flow.cookie };
}

function logFor(code: string, reference: string): Record<string, unknown> | undefined {
  return output.logs().find((l) => l['code'] === code && l['reference'] === reference);
}

function referenceOf(location: string | undefined): string {
  return new URL(location ?? '', 'http://x').searchParams.get('ref') ?? '';
}

describe.each<[string, Fault, string, string, string]>([
  [
    'Intuit answers 503',
    { mode: 'status503' },
    'TOKEN_EXCHANGE_AMBIGUOUS',
    'TokenExchangeAmbiguous',
    'UNKNOWN',
  ],
  [
    'Intuit answers 500',
    { mode: 'status500' },
    'TOKEN_EXCHANGE_AMBIGUOUS',
    'TokenExchangeAmbiguous',
    'UNKNOWN',
  ],
  [
    'Intuit answers 429',
    { mode: 'status429' },
    'TOKEN_EXCHANGE_AMBIGUOUS',
    'TokenExchangeAmbiguous',
    'UNKNOWN',
  ],
  [
    'Intuit hangs past the timeout',
    { mode: 'hang' },
    'TOKEN_EXCHANGE_AMBIGUOUS',
    'TokenExchangeAmbiguous',
    'UNKNOWN',
  ],
  [
    'Intuit resets the connection after consuming the code',
    { mode: 'reset-after-consume' },
    'TOKEN_EXCHANGE_AMBIGUOUS',
    'TokenExchangeAmbiguous',
    'UNKNOWN',
  ],
  [
    'Intuit answers invalid_client',
    { mode: 'invalid-client' },
    'TOKEN_EXCHANGE_INVALID_CLIENT',
    'InvalidClient',
    'FAILED',
  ],
  [
    'Intuit answers 200 with a malformed body',
    { mode: 'malformed' },
    'TOKEN_RESPONSE_MALFORMED',
    'TokenExchangeFailed',
    'FAILED',
  ],
])('given %s', (_title, fault, logCode, metric, ledgerStatus) => {
  let attempt: Attempt;
  beforeAll(async () => {
    attempt = await callbackUnder(fault);
  });

  it('C3/G2: makes exactly one exchange and redirects to the failure page with a reference', () => {
    expect(stack.emulator.exchangeCount(sha256Hex(attempt.code))).toBe(1);
    expect(attempt.response.status).toBe(303);
    expect(attempt.response.location).toMatch(/^\/outcome\/failed\?ref=[A-Z2-9]{8}$/);
  });

  it(`C7: logs ${logCode} once with the diagnostics on-call needs, and counts ${metric}`, () => {
    const reference = referenceOf(attempt.response.location);
    const log = logFor(logCode, reference);
    expect(log).toBeDefined();
    expect(log?.['codeHashPrefix']).toBe(sha256Hex(attempt.code).slice(0, 12));
    expect(log?.['redirectUri']).toBe(stack.config.redirectUri);
    expect(log?.['clientIdPrefix']).toBe(CANARY_CLIENT.clientId.slice(0, 6));
    expect(log?.['qboEnvironment']).toBe('sandbox');
    expect(typeof log?.['flowAgeMs']).toBe('number');
    expect(output.metricNames()).toContain(metric);
  });

  it(`records the code as ${ledgerStatus} and answers replays from the ledger without calling Intuit`, async () => {
    const entry = await stack.flowItem(`CODE#${sha256Hex(attempt.code)}`);
    expect(entry?.['status']).toBe(ledgerStatus);
    const replay = await get(attempt.url, attempt.cookie);
    expect(replay.location).toBe(attempt.response.location);
    expect(stack.emulator.exchangeCount(sha256Hex(attempt.code))).toBe(1);
  });

  it('shows a failure page with a reconnect button and the reference, and no raw Intuit text', async () => {
    const page = await get(`${stack.url}${attempt.response.location}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('We could not finish connecting to QuickBooks');
    expect(page.body).toContain('href="/connect"');
    expect(page.body).toContain(referenceOf(attempt.response.location));
    expect(page.body).not.toMatch(/invalid_client|throttled|Service Unavailable/i);
  });
});

describe('given a code that expired before the callback (Intuit answers invalid_grant)', () => {
  let expiring: TestStack;
  let attempt: Attempt;
  beforeAll(async () => {
    expiring = await startTestStack({ emulator: { codeLifetimeMs: 200 } });
    const { url, flow } = await consentedCallback(expiring.url, expiring.emulator);
    seen.add(codeOf(url));
    await new Promise((resolve) => setTimeout(resolve, 300));
    attempt = { response: await get(url, flow.cookie), code: codeOf(url), url, cookie: flow.cookie };
  });
  afterAll(async () => expiring?.close());

  it('C7: sends it once, ends FAILED, logs TOKEN_EXCHANGE_INVALID_GRANT with intuit_tid and counts InvalidGrant', async () => {
    expect(expiring.emulator.exchangeCount(sha256Hex(attempt.code))).toBe(1);
    expect(attempt.response.location).toMatch(/^\/outcome\/failed\?ref=/);
    const log = logFor('TOKEN_EXCHANGE_INVALID_GRANT', referenceOf(attempt.response.location));
    expect(log?.['oauthError']).toBe('invalid_grant');
    expect(log?.['httpStatus']).toBe(400);
    expect(log?.['intuitTid']).toMatch(/^1-[0-9a-f]+$/);
    expect(output.metricNames()).toContain('InvalidGrant');
    expect((await expiring.flowItem(`CODE#${sha256Hex(attempt.code)}`))?.['status']).toBe('FAILED');
  });

  it('C2: replays get the same failure page and never reach Intuit', async () => {
    for (let i = 0; i < 3; i++)
      expect((await get(attempt.url, attempt.cookie)).location).toBe(attempt.response.location);
    expect(expiring.emulator.exchangeCount(sha256Hex(attempt.code))).toBe(1);
  });
});

describe('given Intuit is slow but answers within the timeout', () => {
  it('connects, and a duplicate sent meanwhile waits for the outcome instead of exchanging', async () => {
    const { url, flow } = await consentedCallback(stack.url, stack.emulator);
    seen.add(codeOf(url));
    stack.emulator.setFault({ mode: 'latency', latencyMs: 600, times: 1 });
    const first = get(url, flow.cookie);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const duplicate = await get(url, flow.cookie);
    expect((await first).location).toBe('/outcome/connected');
    expect(duplicate.location).toBe('/outcome/connected');
    expect(stack.emulator.exchangeCount(sha256Hex(codeOf(url)))).toBe(1);
  });
});

describe('F1: log canary over every failure path', () => {
  it('never writes a code, state, token, client secret or Basic credential', async () => {
    const text = output.text();
    expect(output.logs().length).toBeGreaterThan(10);
    const secrets = [
      ...seen,
      CANARY_CLIENT.clientSecret,
      basicAuthorization({ ...CANARY_CLIENT, environment: 'sandbox' }).slice(6),
    ];
    for (const connection of await stack.openedConnections()) {
      secrets.push(String(connection['accessToken']), String(connection['refreshToken']));
    }
    for (const secret of secrets) expect(text.includes(secret)).toBe(false);
  });
});
