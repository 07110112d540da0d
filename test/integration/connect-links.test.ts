/**
 * Tenants and signed connect links over HTTP (README "Tenants and signed connect links"), with
 * DynamoDB Local and the Intuit emulator: links minted through the app API with the TypeScript
 * client, /connect's refusals (A5, I1), the tenant kept server side (I2) and carried to the
 * connection, the binding of a company to its tenant (B7) and its release on DELETE, and the
 * signed redirect to the app verified by the client.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConnectorClient } from '../../client';
import { deriveConnectLinkKeys, mintConnectLink } from '../../lambdas/core/connect-links';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { consent, get } from '../support/http-flow';
import type { HttpResult, StartedFlow } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const LINK_KEY = 'integration-connect-link-key-0123456789abcdef';
const SUCCESS_URL = 'https://app.example/quickbooks/connected';
const FAILURE_URL = 'https://app.example/quickbooks/failed';
const COMPANIES: Record<string, string> = {};
for (let i = 0; i < 12; i++) COMPANIES[`55208163651870${String(i).padStart(5, '0')}`] = `Tenant Co ${i}`;
const REALMS = Object.keys(COMPANIES);
let nextRealm = 0;
const freshRealm = (): string => {
  const realm = REALMS[nextRealm++];
  if (realm === undefined) throw new Error('out of test companies');
  return realm;
};

let output: CapturedOutput;
let stack: TestStack;
let strict: TestStack;
let app: ConnectorClient;

beforeAll(async () => {
  output = captureOutput();
  stack = await startTestStack({
    emulator: { companies: COMPANIES, realmId: REALMS[0] ?? '' },
    keepAliveIntervalMs: 0,
    env: { CONNECT_LINK_KEY: LINK_KEY, APP_SUCCESS_URL: SUCCESS_URL, APP_FAILURE_URL: FAILURE_URL },
  });
  strict = await startTestStack({
    keepAliveIntervalMs: 0,
    env: { REQUIRE_SIGNED_CONNECT_LINKS: 'true' },
  });
  app = new ConnectorClient({ baseUrl: stack.url, auth: { kind: 'bearer', apiKey: stack.apiKey } });
});

afterAll(async () => {
  await stack?.close();
  await strict?.close();
  output?.restore();
});

/** The browser opens a link: the flow it starts, or the page it gets. */
async function open(url: string): Promise<{ response: HttpResult; flow?: StartedFlow }> {
  const response = await get(url);
  if (response.status !== 302 || response.location === undefined) return { response };
  const setCookie = response.setCookies[0] ?? '';
  const authorizeUrl = new URL(response.location);
  return {
    response,
    flow: {
      cookie: setCookie.split(';')[0] ?? '',
      state: authorizeUrl.searchParams.get('state') ?? '',
      authorizeUrl,
      setCookie,
    },
  };
}

/** A user of `tenantId` connects `realmId` through a fresh link; the redirect the app receives. */
async function connectAs(tenantId: string, realmId: string): Promise<URL> {
  const link = await app.createConnectLink({ tenantId });
  const { flow, response } = await open(link.url);
  if (flow === undefined) throw new Error(`the link answered ${response.status}`);
  const callbackUrl = await consent(stack.emulator, flow, 'allow', realmId);
  const callback = await get(callbackUrl, flow.cookie);
  expect(callback.status).toBe(303);
  return new URL(callback.location ?? '');
}

/** The same text with its first character changed (base64url stays base64url). */
function flipFirst(text: string): string {
  return `${text.startsWith('A') ? 'B' : 'A'}${text.slice(1)}`;
}

function expectLinkRefused(response: HttpResult): void {
  expect(response.status).toBe(403);
  expect(response.body).toContain('start connecting again there to get a new link');
  expect(response.setCookies).toEqual([]);
  expect(response.headers.get('location')).toBeNull();
}

describe('a signed connect link', () => {
  it('I2: connects the company for the tenant: the connection carries it and is listed by it', async () => {
    const realmId = freshRealm();
    const exchangesBefore = stack.emulator.exchangeCount();
    const redirect = await connectAs('tenant-alpha', realmId);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(SUCCESS_URL);
    expect(redirect.searchParams.get('realmId')).toBe(realmId);
    expect(redirect.searchParams.get('tenantId')).toBe('tenant-alpha');
    expect(stack.emulator.exchangeCount() - exchangesBefore).toBe(1);
    expect(await stack.connection(realmId)).toMatchObject({ status: 'ACTIVE', tenantId: 'tenant-alpha' });
    const page = await app.listConnections({ tenantId: 'tenant-alpha' });
    expect(page.connections.map((c) => [c.realmId, c.tenantId])).toContainEqual([realmId, 'tenant-alpha']);
  });

  it('I2: the tenant is in the flow record only: not in the cookie, not in the URL to Intuit', async () => {
    const link = await app.createConnectLink({ tenantId: 'tenant-secret-name' });
    const { flow } = await open(link.url);
    expect(flow?.authorizeUrl.toString()).not.toContain('tenant-secret-name');
    expect(flow?.setCookie).not.toContain('tenant-secret-name');
    expect(await stack.flowItem(`STATE#${sha256Hex(flow?.state ?? '')}`)).toMatchObject({
      tenantId: 'tenant-secret-name',
      status: 'PENDING',
    });
  });

  it('I1: works once: the second use gets the refusal page and starts no flow', async () => {
    const link = await app.createConnectLink({ tenantId: 'tenant-once' });
    expect((await open(link.url)).response.status).toBe(302);
    const flowsBefore = (await stack.allFlowItems()).length;
    expectLinkRefused((await open(link.url)).response);
    expect((await stack.allFlowItems()).length).toBe(flowsBefore);
    expect(output.text()).toMatch(/"code":"CONNECT_LINK_REFUSED"[^\n]*"reason":"reused"/);
  });

  it.each([
    ['a tampered tenant', (u: URL) => u.searchParams.set('tenant', 'tenant-mallory')],
    [
      'an altered expiry',
      (u: URL) => u.searchParams.set('exp', String(Number(u.searchParams.get('exp')) + 3000)),
    ],
    [
      'a tampered signature',
      (u: URL) => u.searchParams.set('sig', flipFirst(u.searchParams.get('sig') ?? '')),
    ],
    ['a missing nonce', (u: URL) => u.searchParams.delete('nonce')],
  ])('I1: refuses %s before anything reaches Intuit', async (_label, change) => {
    const link = new URL((await app.createConnectLink({ tenantId: 'tenant-beta' })).url);
    change(link);
    const flowsBefore = (await stack.allFlowItems()).length;
    const authorizeCalls = stack.emulator.exchangeCount();
    expectLinkRefused((await open(link.toString())).response);
    expect((await stack.allFlowItems()).length).toBe(flowsBefore);
    expect(stack.emulator.exchangeCount()).toBe(authorizeCalls);
  });

  it('I1: refuses an expired link and a link signed with another key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const connectUrl = `${stack.url}/connect`;
    const expired = mintConnectLink(
      deriveConnectLinkKeys(Buffer.from(LINK_KEY)),
      connectUrl,
      'tenant-late',
      now - 1,
    );
    expectLinkRefused((await open(expired)).response);
    const foreign = mintConnectLink(
      deriveConnectLinkKeys(Buffer.from('some-other-deployment-key-0123456789abcdef')),
      connectUrl,
      'tenant-beta',
      now + 300,
    );
    expectLinkRefused((await open(foreign)).response);
    // The same key as the deployment's, minted outside it, is accepted: the key is the whole trust.
    const own = mintConnectLink(
      deriveConnectLinkKeys(Buffer.from(LINK_KEY)),
      connectUrl,
      'tenant-beta',
      now + 300,
    );
    expect((await open(own)).response.status).toBe(302);
  });

  it('answers 400 invalid_request to a tenant outside the rule', async () => {
    const response = await fetch(`${stack.url}/api/connect-links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenantId: 'has space', expiresInSeconds: 300 }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('the tenant binding (B7)', () => {
  it("B7: a link for another tenant that comes back with a bound company is refused; nothing stored, the first tenant's tokens unchanged", async () => {
    const realmId = freshRealm();
    await connectAs('tenant-owner', realmId);
    const before = await stack.openedConnection(realmId);
    const redirect = await connectAs('tenant-intruder', realmId);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(FAILURE_URL);
    expect(redirect.searchParams.get('outcome')).toBe('failed');
    expect(redirect.searchParams.get('tenantId')).toBe('tenant-intruder');
    expect(await stack.openedConnection(realmId)).toEqual(before);
    expect(stack.emulator.isRefreshTokenActive(String(before?.['refreshToken']))).toBe(true);
    expect((await app.listConnections({ tenantId: 'tenant-intruder' })).connections).toEqual([]);
    expect(output.text()).toMatch(/"code":"REALM_BOUND_TO_OTHER_TENANT"/);
    // The app's verification of that failure says who it was for.
    await expect(app.verifyConnectResult(redirect.search)).resolves.toMatchObject({
      valid: true,
      outcome: 'failed',
      tenantId: 'tenant-intruder',
    });
  });

  it('B7: a plain /connect (no tenant) cannot take over a bound company either', async () => {
    const realmId = freshRealm();
    await connectAs('tenant-holder', realmId);
    const before = await stack.openedConnection(realmId);
    const { flow } = await open(`${stack.url}/connect`);
    if (flow === undefined) throw new Error('a plain /connect is served here');
    const callback = await get(await consent(stack.emulator, flow, 'allow', realmId), flow.cookie);
    expect(new URL(callback.location ?? '').searchParams.get('outcome')).toBe('failed');
    expect(await stack.openedConnection(realmId)).toEqual(before);
  });

  it('B7/D5: the same tenant reconnecting replaces its tokens', async () => {
    const realmId = freshRealm();
    await connectAs('tenant-again', realmId);
    const first = await stack.openedConnection(realmId);
    const redirect = await connectAs('tenant-again', realmId);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(SUCCESS_URL);
    const second = await stack.openedConnection(realmId);
    expect(second?.['version']).toBe(Number(first?.['version']) + 1);
    expect(second?.['refreshToken']).not.toBe(first?.['refreshToken']);
    expect(second?.['tenantId']).toBe('tenant-again');
  });

  it('B7: after DELETE /api/connections/{realmId} another tenant may connect the company', async () => {
    const realmId = freshRealm();
    await connectAs('tenant-leaving', realmId);
    expect(await app.disconnect(realmId)).toBe(true);
    expect((await stack.connection(realmId))?.['tenantId']).toBeUndefined();
    expect(
      (await app.listConnections({ tenantId: 'tenant-leaving' })).connections.map((c) => c.realmId),
    ).not.toContain(realmId);
    const redirect = await connectAs('tenant-arriving', realmId);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(SUCCESS_URL);
    expect(await stack.connection(realmId)).toMatchObject({ status: 'ACTIVE', tenantId: 'tenant-arriving' });
  });
});

describe('the signed redirect to the app', () => {
  it('is verified by the client, and a tampered or replayed-elsewhere one is refused', async () => {
    const realmId = freshRealm();
    const redirect = await connectAs('tenant-verify', realmId);
    expect(redirect.searchParams.get('ts')).toMatch(/^\d+$/);
    await expect(app.verifyConnectResult(redirect.search)).resolves.toEqual({
      valid: true,
      outcome: 'connected',
      realmId,
      tenantId: 'tenant-verify',
    });
    const forged = new URLSearchParams(redirect.search);
    forged.set('realmId', freshRealm());
    await expect(app.verifyConnectResult(forged.toString())).resolves.toEqual({ valid: false });
    const otherTenant = new URLSearchParams(redirect.search);
    otherTenant.set('tenantId', 'tenant-mallory');
    await expect(app.verifyConnectResult(otherTenant.toString())).resolves.toEqual({ valid: false });
    const unsigned = new URLSearchParams(redirect.search);
    unsigned.delete('sig');
    await expect(app.verifyConnectResult(unsigned.toString())).resolves.toEqual({ valid: false });
  });
});

describe('when signed links are required (A5)', () => {
  it('A5: a plain /connect gets the refusal page; a signed link still starts a flow', async () => {
    expectLinkRefused(await get(`${strict.url}/connect`));
    const strictApp = new ConnectorClient({
      baseUrl: strict.url,
      auth: { kind: 'bearer', apiKey: strict.apiKey },
    });
    const link = await strictApp.createConnectLink({ tenantId: 'tenant-strict', expiresInSeconds: 60 });
    expect((await open(link.url)).response.status).toBe(302);
  });

  it('serves a plain /connect when links are not required (npm start)', async () => {
    expect((await get(`${stack.url}/connect`)).status).toBe(302);
  });

  it('F1: no log line holds a link signature, a nonce or the key', async () => {
    const link = new URL((await app.createConnectLink({ tenantId: 'tenant-canary' })).url);
    await open(link.toString());
    const text = output.text();
    expect(text).not.toContain(LINK_KEY);
    expect(text).not.toContain(link.searchParams.get('sig') ?? 'unset');
    expect(text).not.toContain(link.searchParams.get('nonce') ?? 'unset');
  });
});

describe('npm run connect-link -- --local', () => {
  it('mints a link through the app API with the bearer key and prints only its URL on stdout', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, '..', '..', 'bin', 'connect-link.ts'),
        '--local',
        '--url',
        stack.url,
        '--tenant',
        'tenant-cli',
      ],
      { env: { ...process.env, CONNECTOR_API_KEY: stack.apiKey } },
    );
    const url = stdout.trim();
    expect(new URL(url).searchParams.get('tenant')).toBe('tenant-cli');
    expect(stderr).toMatch(/single use, until \d{4}-/);
    expect((await open(url)).response.status).toBe(302);
  });

  it('exits 2 with the usage without --tenant', async () => {
    const run = promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      join(__dirname, '..', '..', 'bin', 'connect-link.ts'),
      '--local',
    ]);
    await expect(run).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('usage: npm run connect-link'),
    });
  });
});
