/**
 * docs/security.md B6 over HTTP, with DynamoDB Local and the emulator's CompanyInfo endpoint: a forged
 * realmId never replaces another company's tokens, and every way the company check can end stores
 * nothing unverified. The callback never revokes (C8).
 */
import { basicAuthorization } from '../../lambdas/adapters/intuit-token-client';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import type { LogCode, MetricName } from '../../lambdas/core/telemetry-codes';
import type { CompanyInfoFaultMode } from '../../local/intuit-emulator';
import { codeOf, consent, get, startFlow } from '../support/http-flow';
import type { HttpResult } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { CANARY_CLIENT, startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const VICTIM_REALM = '9130357766125098';
const ATTACKER_REALM = '4620816365187336590';
const COMPANIES = { [VICTIM_REALM]: 'Victim Bakery LLC', [ATTACKER_REALM]: 'Attacker Holdings' };

let output: CapturedOutput;
let stack: TestStack;
/** Codes and states the browser side saw, for the log canary. */
const seen = new Set<string>();

beforeAll(async () => {
  output = captureOutput();
  stack = await startTestStack({
    env: { COMPANY_CHECK_TIMEOUT_MS: '700' },
    emulator: { companies: COMPANIES, realmId: VICTIM_REALM },
  });
});

afterAll(async () => {
  await stack?.close();
  output?.restore();
});

beforeEach(() => stack.emulator.clearCompanyInfoFault());

/** One browser: start a flow, pick a company at Intuit, follow the callback (optionally edited). */
async function connectAs(
  realmId: string,
  edit: (callback: URL) => void = () => undefined,
): Promise<{ response: HttpResult; code: string; callbackUrl: string; cookie: string }> {
  const flow = await startFlow(stack.url);
  const callback = new URL(await consent(stack.emulator, flow, 'allow', realmId));
  edit(callback);
  const code = codeOf(callback.toString());
  seen.add(code);
  seen.add(flow.state);
  const response = await get(callback.toString(), flow.cookie);
  return { response, code, callbackUrl: callback.toString(), cookie: flow.cookie };
}

function logsOf(code: string, codeHash: string): Array<Record<string, unknown>> {
  const prefix = codeHash.slice(0, 12);
  return output.logs().filter((l) => l['code'] === code && l['codeHashPrefix'] === prefix);
}

describe('given a victim company is connected and an attacker forges realmId on their own callback', () => {
  it('B6: leaves the victim connection byte-for-byte unchanged, makes one exchange and lands on the failed page', async () => {
    const victim = await connectAs(VICTIM_REALM);
    expect(victim.response.location).toBe('/outcome/connected');
    const before = await stack.openedConnection(VICTIM_REALM);
    expect(before?.['companyName']).toBe('Victim Bakery LLC');
    const revocationsBefore = stack.emulator.revocationRequests();

    const attack = await connectAs(ATTACKER_REALM, (url) => url.searchParams.set('realmId', VICTIM_REALM));

    expect(attack.response.status).toBe(303);
    expect(attack.response.location).toMatch(/^\/outcome\/failed\?ref=[A-Z2-9]{8}$/);
    expect(await stack.openedConnection(VICTIM_REALM)).toStrictEqual(before);
    expect(await stack.openedConnection(ATTACKER_REALM)).toBeUndefined();
    const codeHash = sha256Hex(attack.code);
    expect(stack.emulator.exchangeCount(codeHash)).toBe(1);
    // The check asked Intuit about the forged realm with the attacker's token, and was refused.
    const check = stack.emulator.companyInfoRequests().at(-1);
    expect(check).toMatchObject({
      realmId: VICTIM_REALM,
      minorVersion: '75',
      status: 403,
      outcome: 'realm_mismatch',
    });
    expect(await stack.flowItem(`CODE#${codeHash}`)).toMatchObject({
      status: 'FAILED',
      reason: 'realm_mismatch',
    });
    const [log] = logsOf('REALM_MISMATCH', codeHash);
    expect(log).toMatchObject({
      level: 'ERROR',
      faultCode: '003100',
      realmId: VICTIM_REALM,
      httpStatus: 403,
    });
    expect(log?.['companyCheckTid']).toMatch(/^1-[0-9a-f]{24}$/);
    expect(log?.['intuitTid']).toMatch(/^1-[0-9a-f]{24}$/);
    expect(output.metricNames()).toContain('RealmMismatch');
    // C8: nothing revoked, so the victim's stored tokens still work at Intuit.
    expect(stack.emulator.revocationRequests()).toBe(revocationsBefore);
    expect(stack.emulator.isAccessTokenActive(String(before?.['accessToken']))).toBe(true);
    expect(stack.emulator.isRefreshTokenActive(String(before?.['refreshToken']))).toBe(true);
  });

  it('B6: a replay of the forged callback lands on the same failed page without another exchange or check', async () => {
    const attack = await connectAs(ATTACKER_REALM, (url) => url.searchParams.set('realmId', VICTIM_REALM));
    const checks = stack.emulator.companyInfoRequests().length;
    const replay = await get(attack.callbackUrl, attack.cookie);
    expect(replay.location).toBe(attack.response.location);
    expect(stack.emulator.exchangeCount(sha256Hex(attack.code))).toBe(1);
    expect(stack.emulator.companyInfoRequests()).toHaveLength(checks);
  });

  it('B6: the attacker connecting their own company, unedited, is stored under their own realm only', async () => {
    const victimBefore = await stack.openedConnection(VICTIM_REALM);
    const own = await connectAs(ATTACKER_REALM);
    expect(own.response.location).toBe('/outcome/connected');
    expect((await stack.openedConnection(ATTACKER_REALM))?.['companyName']).toBe('Attacker Holdings');
    expect(await stack.openedConnection(VICTIM_REALM)).toStrictEqual(victimBefore);
  });
});

describe('given the company check cannot verify the company', () => {
  // A configuration problem (the API host and the keys disagree) or an Intuit that did not answer.
  const OUTCOMES: [CompanyInfoFaultMode, LogCode, MetricName][] = [
    ['status401', 'COMPANY_CHECK_MISCONFIGURED', 'ConfigError'],
    ['wrong-cluster', 'COMPANY_CHECK_MISCONFIGURED', 'ConfigError'],
    ...(['status500', 'status503', 'status429', 'hang', 'reset'] as const).map(
      (mode): [CompanyInfoFaultMode, LogCode, MetricName] => [
        mode,
        'COMPANY_CHECK_UNAVAILABLE',
        'CompanyCheckUnavailable',
      ],
    ),
  ];

  it.each(OUTCOMES)(
    'B6: %s leaves the company unverified: nothing stored, realm_unverified, %s and %s, the try-again page',
    async (mode, code, metric) => {
      const victimBefore = await stack.openedConnection(VICTIM_REALM);
      stack.emulator.setCompanyInfoFault({ mode, times: 1 });
      const revocations = stack.emulator.revocationRequests();

      const attempt = await connectAs(VICTIM_REALM);

      expect(attempt.response.location).toMatch(/^\/outcome\/unverified\?ref=[A-Z2-9]{8}$/);
      expect(await stack.openedConnection(VICTIM_REALM)).toStrictEqual(victimBefore);
      const codeHash = sha256Hex(attempt.code);
      expect(stack.emulator.exchangeCount(codeHash)).toBe(1);
      expect(await stack.flowItem(`CODE#${codeHash}`)).toMatchObject({
        status: 'FAILED',
        reason: 'realm_unverified',
      });
      const logs = logsOf(code, codeHash);
      expect(logs).toHaveLength(1);
      if (code === 'COMPANY_CHECK_MISCONFIGURED')
        expect(String(logs[0]?.['message'])).toContain('QBO_API_BASE_URL');
      expect(output.metricNames()).toContain(metric);
      expect(stack.emulator.revocationRequests()).toBe(revocations);

      const page = await get(`${stack.url}${attempt.response.location ?? ''}`);
      expect(page.status).toBe(200);
      expect(page.body).toContain('We could not confirm your QuickBooks company');
      expect(page.body).toContain('Try again');
    },
  );

  it('a later flow, with Intuit healthy again, connects and replaces the tokens of the same company', async () => {
    const before = await stack.openedConnection(VICTIM_REALM);
    const again = await connectAs(VICTIM_REALM);
    expect(again.response.location).toBe('/outcome/connected');
    const after = await stack.openedConnection(VICTIM_REALM);
    expect(after?.['accessToken']).not.toBe(before?.['accessToken']);
    expect(after?.['companyName']).toBe('Victim Bakery LLC');
  });
});

describe('F1: log canary over every company-check path', () => {
  it('never writes a code, state, token, client secret or Basic credential to the output', async () => {
    const secrets = new Set(seen);
    for (const c of await stack.openedConnections()) {
      secrets.add(String(c['accessToken']));
      secrets.add(String(c['refreshToken']));
    }
    secrets.add(CANARY_CLIENT.clientSecret);
    secrets.add(basicAuthorization({ ...CANARY_CLIENT, environment: 'sandbox' }).slice('Basic '.length));
    const text = output.text();
    expect(output.logs().length).toBeGreaterThan(20);
    for (const secret of secrets) expect(text.includes(secret)).toBe(false);
    // Unstored tokens (the attacker's, the unverified ones) are unknown here, but the emulator
    // mints recognisable shapes: refresh tokens start AB11, access tokens are 64 base64url chars.
    expect(text).not.toMatch(/AB11[A-Za-z0-9_-]{30}/);
    expect(text).not.toMatch(
      /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{0,63}[A-Z_-])[A-Za-z0-9_-]{64}(?![A-Za-z0-9_-])/,
    );
    expect(text).not.toMatch(/Bearer /);
  });
});
