/**
 * The two URLs Intuit asks every app to register, over HTTP with DynamoDB Local and the emulator:
 * the Reconnect URL works with no parameters, and the Disconnect URL changes a connection only when
 * Intuit itself refuses its grant, at most one check per company per hour however many requests
 * arrive (docs/security.md I3).
 */
import { consent, get, startFlow } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const COMPANIES: Record<string, string> = {};
for (let i = 0; i < 8; i++) COMPANIES[`93000000000${String(i).padStart(5, '0')}`] = `Landing Co ${i}`;
const REALMS = Object.keys(COMPANIES);
const realm = (i: number): string => REALMS[i] ?? '';

let output: CapturedOutput;
let stack: TestStack;

beforeAll(async () => {
  output = captureOutput();
  stack = await startTestStack({
    emulator: { companies: COMPANIES, realmId: realm(0) },
    keepAliveIntervalMs: 0,
  });
});

afterAll(async () => {
  await stack?.close();
  output?.restore();
});

async function connect(realmId: string): Promise<void> {
  const flow = await startFlow(stack.url);
  const response = await get(await consent(stack.emulator, flow, 'allow', realmId), flow.cookie);
  if (response.status !== 303) throw new Error(`callback answered ${response.status}`);
}

const logs = (code: string) => output.logs().filter((line) => line['code'] === code);

describe('the Disconnect URL (I3)', () => {
  it('I3: without a realmId shows the disconnected page and asks nobody', async () => {
    const refreshes = stack.emulator.refreshCount();
    const page = await get(`${stack.url}/disconnect`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('is disconnected from QuickBooks');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(stack.emulator.refreshCount()).toBe(refreshes);
  });

  it('I3: marks a connection disconnected only when Intuit refuses its grant', async () => {
    await connect(realm(1));
    stack.emulator.disconnectCompany(realm(1));
    const page = await get(`${stack.url}/disconnect?realmId=${realm(1)}`);
    expect(page.status).toBe(200);
    expect((await stack.connections().get(realm(1)))?.status).toBe('DISCONNECTED');
    expect(logs('DISCONNECT_CONFIRMED').some((l) => l['realmId'] === realm(1))).toBe(true);
  });

  it('I3: leaves a working connection active (its grant still refreshes) whatever the request says', async () => {
    await connect(realm(2));
    const refreshes = stack.emulator.refreshCount();
    const page = await get(`${stack.url}/disconnect?realmId=${realm(2)}`);
    expect(page.status).toBe(200);
    expect((await stack.connections().get(realm(2)))?.status).toBe('ACTIVE');
    expect(stack.emulator.refreshCount()).toBe(refreshes + 1);
  });

  it('I3: a burst of landings for one company makes at most one check with Intuit, and none again within the hour', async () => {
    await connect(realm(3));
    const refreshes = stack.emulator.refreshCount();
    const pages = await Promise.all(
      Array.from({ length: 12 }, () => get(`${stack.url}/disconnect?realmId=${realm(3)}`)),
    );
    expect(pages.map((p) => p.status)).toEqual(Array(12).fill(200));
    expect(stack.emulator.refreshCount()).toBe(refreshes + 1);
    stack.emulator.disconnectCompany(realm(3));
    await get(`${stack.url}/disconnect?realmId=${realm(3)}`);
    // Checked within the hour: Intuit is not asked, and the connection is not touched on hearsay.
    expect(stack.emulator.refreshCount()).toBe(refreshes + 1);
    expect((await stack.connections().get(realm(3)))?.status).toBe('ACTIVE');
  });

  it.each([
    ['an unknown company', '1234567890'],
    ['a realmId that is not digits', '12ab'],
    ['a doubled realmId', `${realm(4)}&realmId=${realm(4)}`],
  ])('I3: %s gets the same page and no call to Intuit', async (_name, query) => {
    await connect(realm(4)).catch(() => undefined);
    const refreshes = stack.emulator.refreshCount();
    const page = await get(`${stack.url}/disconnect?realmId=${query}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('is disconnected from QuickBooks');
    expect(stack.emulator.refreshCount()).toBe(refreshes);
  });
});

describe('the Reconnect URL', () => {
  it('starts a flow without any parameter, as /connect does', async () => {
    const response = await get(`${stack.url}/reconnect`);
    expect(response.status).toBe(302);
    expect(response.location).toMatch(/\/connect\/oauth2\?/);
    expect(response.setCookies[0]).toMatch(/^__Host-qbo_flow_/);
    expect(logs('RECONNECT_LANDING').length).toBeGreaterThan(0);
  });

  it('takes a reconnect-required company back to active through the flow it starts', async () => {
    await connect(realm(5));
    stack.emulator.disconnectCompany(realm(5));
    await get(`${stack.url}/disconnect?realmId=${realm(5)}`);
    expect((await stack.connections().get(realm(5)))?.status).toBe('DISCONNECTED');
    const started = await get(`${stack.url}/reconnect?realmId=${realm(5)}`);
    const authorizeUrl = new URL(started.location ?? '');
    const cookie = (started.setCookies[0] ?? '').split(';')[0] ?? '';
    const flow = { cookie, state: authorizeUrl.searchParams.get('state') ?? '', authorizeUrl, setCookie: '' };
    const callback = await get(await consent(stack.emulator, flow, 'allow', realm(5)), cookie);
    expect(callback.status).toBe(303);
    expect((await stack.connections().get(realm(5)))?.status).toBe('ACTIVE');
  });
});

describe('the Reconnect URL when signed connect links are required', () => {
  let signed: TestStack;
  let plain: TestStack;
  beforeAll(async () => {
    signed = await startTestStack({
      keepAliveIntervalMs: 0,
      env: {
        REQUIRE_SIGNED_CONNECT_LINKS: 'true',
        APP_RECONNECT_URL: 'https://app.example.com/quickbooks/reconnect',
      },
    });
    plain = await startTestStack({ keepAliveIntervalMs: 0, env: { REQUIRE_SIGNED_CONNECT_LINKS: 'true' } });
  });
  afterAll(async () => {
    await signed?.close();
    await plain?.close();
  });

  it("A5: sends the browser to the app's reconnect page, with the realmId as a hint only", async () => {
    const response = await get(`${signed.url}/reconnect?realmId=9130357766125098`);
    expect(response.status).toBe(302);
    expect(response.location).toBe('https://app.example.com/quickbooks/reconnect?realmId=9130357766125098');
    const hostile = await get(`${signed.url}/reconnect?realmId=%3Cscript%3E`);
    expect(hostile.location).toBe('https://app.example.com/quickbooks/reconnect');
  });

  it('A5: without an app reconnect page, says to reconnect from the app and starts no flow', async () => {
    const response = await get(`${plain.url}/reconnect`);
    expect(response.status).toBe(200);
    expect(response.body).toContain('Reconnect QuickBooks from');
    expect(response.setCookies).toEqual([]);
  });
});
