/**
 * The app API over HTTP (README "App API"), with DynamoDB Local and the Intuit emulator: every
 * route and status, the single-flight refresh (D4), rotation (D3), the version fence against a
 * reconnect (D5), lost and refused refreshes (D6), disconnect with revocation (D7), encryption at
 * rest (H3), the keep-alive, and the log canary (F1) over all of it.
 */
import { PutCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ConnectionStore } from '../../lambdas/core/connection-store';
import { IntuitTokenClient } from '../../lambdas/adapters/intuit-token-client';
import type { DynamoDbConnectionStore } from '../../lambdas/adapters/dynamodb-connection-store';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { consent, get, startFlow } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { CANARY_CLIENT, startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const COMPANIES: Record<string, string> = {};
for (let i = 0; i < 24; i++) COMPANIES[`46208163651870${String(i).padStart(5, '0')}`] = `Company ${i}`;
const REALMS = Object.keys(COMPANIES);
let nextRealm = 0;
const freshRealm = (): string => {
  const realm = REALMS[nextRealm++];
  if (realm === undefined) throw new Error('out of test companies');
  return realm;
};

let output: CapturedOutput;
let stack: TestStack;
/** Every token the connector was given or served, for the scan and the log canary. */
const tokensSeen = new Set<string>();
/** Set by a test to act between taking the lease and the refresh request (a sibling, a reconnect). */
let afterLease: ((realmId: string, store: DynamoDbConnectionStore) => Promise<void>) | undefined;

beforeAll(async () => {
  output = captureOutput();
  stack = await startTestStack({
    emulator: { companies: COMPANIES, realmId: REALMS[0] ?? '' },
    keepAliveIntervalMs: 0,
    wrapStore: (store) => withLeaseHook(store),
  });
});

afterAll(async () => {
  await stack?.close();
  output?.restore();
});

beforeEach(() => {
  afterLease = undefined;
  stack.emulator.clearFault();
  stack.emulator.clearRevokeFault();
  stack.emulator.setAccessTokenLifetime(3600);
});

/** The real store, with the test's hook run right after a lease is taken. */
function withLeaseHook(store: DynamoDbConnectionStore): ConnectionStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'takeRefreshLease')
        return async (...args: Parameters<ConnectionStore['takeRefreshLease']>) => {
          const result = await target.takeRefreshLease(...args);
          if (result.kind === 'taken' && afterLease !== undefined) await afterLease(args[0], target);
          return result;
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
  readonly text: string;
}

async function api(
  method: string,
  path: string,
  body?: unknown,
  key: string | null = stack.apiKey,
): Promise<ApiAnswer> {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: {
      ...(key !== null ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    /* asserted by the caller */
  }
  const accessToken = json['accessToken'];
  if (typeof accessToken === 'string') tokensSeen.add(accessToken);
  return { status: response.status, headers: response.headers, json, text };
}

const accessToken = (realmId: string, minValidSeconds?: number): Promise<ApiAnswer> =>
  api(
    'POST',
    `/api/connections/${realmId}/access-token`,
    minValidSeconds === undefined ? undefined : { minValidSeconds },
  );

/** A user connects `realmId` through the browser flow; resolves once the callback stored it. */
async function connect(realmId: string): Promise<void> {
  const flow = await startFlow(stack.url);
  const callback = await consent(stack.emulator, flow, 'allow', realmId);
  const response = await get(callback, flow.cookie);
  if (response.status !== 303) throw new Error(`callback answered ${response.status}`);
  await rememberStoredTokens(realmId);
}

async function rememberStoredTokens(realmId: string): Promise<void> {
  const connection = await stack.connections().get(realmId);
  if (connection?.tokens !== undefined) {
    tokensSeen.add(connection.tokens.accessToken);
    tokensSeen.add(connection.tokens.refreshToken);
  }
}

function logs(code: string): Array<Record<string, unknown>> {
  return output.logs().filter((line) => line['code'] === code);
}

describe('authentication (H1, locally the bearer key)', () => {
  it('H1: refuses a request without the key with 401, WWW-Authenticate: Bearer and a JSON body', async () => {
    const answer = await api('GET', `/api/connections/${REALMS[0]}`, undefined, null);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    expect(answer.json).toMatchObject({ error: 'unauthorized' });
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('H1: refuses a wrong key and a key of the right length that differs in one character', async () => {
    expect((await api('GET', `/api/connections/${REALMS[0]}`, undefined, 'nope')).status).toBe(401);
    const almost = `${stack.apiKey.slice(0, -1)}${stack.apiKey.endsWith('A') ? 'B' : 'A'}`;
    expect((await api('GET', `/api/connections/${REALMS[0]}`, undefined, almost)).status).toBe(401);
  });
});

describe('the routes and their answers', () => {
  const realm = freshRealm();
  beforeAll(() => connect(realm));

  it('serves a stored, fresh access token without asking Intuit, with the API host and environment', async () => {
    const refreshes = stack.emulator.refreshCount();
    const answer = await accessToken(realm);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      realmId: realm,
      accessToken: expect.any(String),
      tokenType: 'bearer',
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      qboEnvironment: 'sandbox',
      apiBaseUrl: stack.emulator.apiBaseUrl,
    });
    expect(stack.emulator.refreshCount()).toBe(refreshes);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('set-cookie')).toBeNull();
    expect(logs('TOKEN_SERVED').some((l) => l['realmId'] === realm && l['caller'] === 'local')).toBe(true);
  });

  it('H2: describes a connection with its times and never a token', async () => {
    const answer = await api('GET', `/api/connections/${realm}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      realmId: realm,
      status: 'active',
      companyName: COMPANIES[realm],
      qboEnvironment: 'sandbox',
      connectedAt: expect.any(String),
      accessTokenExpiresAt: expect.any(String),
      refreshTokenExpiresAt: expect.any(String),
      refreshTokenHardExpiresAt: expect.any(String),
    });
    for (const token of tokensSeen) expect(answer.text).not.toContain(token);
  });

  it('answers 404 connection_not_found for a company never connected', async () => {
    for (const answer of [await accessToken('1234567'), await api('GET', '/api/connections/1234567')]) {
      expect(answer.status).toBe(404);
      expect(answer.json).toMatchObject({ error: 'connection_not_found', message: expect.any(String) });
    }
    expect((await api('DELETE', '/api/connections/1234567')).status).toBe(404);
  });

  it.each([
    ['a realmId that is not digits', 'POST', '/api/connections/abc/access-token', undefined],
    ['malformed JSON', 'POST', `/api/connections/${realm}/access-token`, '{"minValidSeconds":'],
    [
      'minValidSeconds above 3300',
      'POST',
      `/api/connections/${realm}/access-token`,
      { minValidSeconds: 3301 },
    ],
    [
      'minValidSeconds that is not an integer',
      'POST',
      `/api/connections/${realm}/access-token`,
      { minValidSeconds: '60' },
    ],
    ['a listing without a tenant', 'GET', '/api/connections', undefined],
  ])('answers 400 invalid_request for %s', async (_name, method, path, body) => {
    const answer = await api(method, path, body);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: 'invalid_request', message: expect.any(String) });
  });

  it('answers an unknown route with a JSON 404 and a wrong method with a JSON 405 and Allow', async () => {
    const unknown = await api('GET', '/api/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: 'not_found' });
    const wrong = await api('PUT', `/api/connections/${realm}`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, DELETE');
    expect(wrong.json).toMatchObject({ error: 'method_not_allowed' });
  });

  it("lists a tenant's connections (none carry a tenant before signed connect links)", async () => {
    const answer = await api('GET', '/api/connections?tenantId=tenant-1');
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ connections: [] });
  });
});

describe('refresh (D3, D4)', () => {
  it('D3: refreshes when the token would not last minValidSeconds, stores the rotated pair, and rotates again next time', async () => {
    const realm = freshRealm();
    stack.emulator.setAccessTokenLifetime(600);
    await connect(realm);
    const before = await stack.connections().get(realm);
    const first = await accessToken(realm, 3300);
    expect(first.status).toBe(200);
    const afterFirst = await stack.connections().get(realm);
    expect(afterFirst?.version).toBe((before?.version ?? 0) + 1);
    expect(afterFirst?.tokens?.refreshToken).not.toBe(before?.tokens?.refreshToken);
    expect(stack.emulator.refreshTokenState(before?.tokens?.refreshToken ?? '')).toBe('rotated');
    await rememberStoredTokens(realm);

    const second = await accessToken(realm, 3300);
    expect(second.status).toBe(200);
    expect(second.json['accessToken']).not.toBe(first.json['accessToken']);
    const afterSecond = await stack.connections().get(realm);
    expect(stack.emulator.refreshTokenState(afterFirst?.tokens?.refreshToken ?? '')).toBe('rotated');
    expect(stack.emulator.refreshTokenState(afterSecond?.tokens?.refreshToken ?? '')).toBe('active');
    expect(afterSecond?.version).toBe((before?.version ?? 0) + 2);
    await rememberStoredTokens(realm);
  });

  it('D4: ten concurrent calls on an expired token make exactly one refresh and all get the same new token', async () => {
    const realm = freshRealm();
    // Issued to last a minute: the default minValidSeconds (300) needs a refresh.
    stack.emulator.setAccessTokenLifetime(60);
    await connect(realm);
    stack.emulator.setAccessTokenLifetime(3600);
    const version = (await stack.connections().get(realm))?.version ?? 0;
    const refreshes = stack.emulator.refreshCount();
    const answers = await Promise.all(Array.from({ length: 10 }, () => accessToken(realm)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => a.json['accessToken'])).size).toBe(1);
    expect(stack.emulator.refreshCount()).toBe(refreshes + 1);
    expect((await stack.connections().get(realm))?.version).toBe(version + 1);
    await rememberStoredTokens(realm);
  });

  it("D5: a reconnect that lands during a refresh keeps its tokens; the refresh's are discarded", async () => {
    const realm = freshRealm();
    // Issued to last a minute: the default minValidSeconds (300) needs a refresh.
    stack.emulator.setAccessTokenLifetime(60);
    await connect(realm);
    stack.emulator.setAccessTokenLifetime(3600);
    afterLease = async () => {
      afterLease = undefined;
      await connect(realm);
    };
    const answer = await accessToken(realm);
    expect(answer.status).toBe(200);
    const stored = await stack.connections().get(realm);
    expect(answer.json['accessToken']).toBe(stored?.tokens?.accessToken);
    expect(stack.emulator.refreshTokenState(stored?.tokens?.refreshToken ?? '')).toBe('active');
    expect(logs('REFRESH_SUPERSEDED').some((l) => l['realmId'] === realm)).toBe(true);
  });

  it("D6: invalid_grant after a sibling rotated the token (a lapsed lease) is answered with the sibling's token", async () => {
    const realm = freshRealm();
    // Issued to last a minute: the default minValidSeconds (300) needs a refresh.
    stack.emulator.setAccessTokenLifetime(60);
    await connect(realm);
    stack.emulator.setAccessTokenLifetime(3600);
    const client = new IntuitTokenClient({
      tokenEndpoint: stack.emulator.tokenEndpoint,
      redirectUri: stack.config.redirectUri,
    });
    afterLease = async (realmId, store) => {
      afterLease = undefined;
      // The sibling refreshes with the same refresh token and stores first.
      const current = await store.get(realmId);
      if (current?.tokens === undefined) throw new Error('no tokens to refresh');
      const { tokens } = await client.refresh(
        current.tokens.refreshToken,
        { ...CANARY_CLIENT, environment: 'sandbox' },
        5000,
      );
      const now = Date.now();
      await store.storeRefreshedTokens(
        realmId,
        current.version,
        {
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken,
          accessTokenExpiresAt: now + tokens.expiresInSeconds * 1000,
          refreshTokenExpiresAt: now + tokens.refreshTokenExpiresInSeconds * 1000,
        },
        now,
      );
      tokensSeen.add(tokens.accessToken);
      tokensSeen.add(tokens.refreshToken);
    };
    const answer = await accessToken(realm);
    expect(answer.status).toBe(200);
    expect((await stack.connections().get(realm))?.status).toBe('ACTIVE');
    expect(answer.json['accessToken']).toBe((await stack.connections().get(realm))?.tokens?.accessToken);
    expect(logs('REFRESH_INVALID_GRANT').some((l) => l['realmId'] === realm)).toBe(false);
  });
});

describe('refreshes Intuit does not answer clearly (D6)', () => {
  it.each([
    ['a lost answer after rotating', 'reset-after-consume'],
    ['a 503', 'status503'],
    ['a 429', 'status429'],
  ] as const)(
    'D6: %s keeps the stored tokens, answers 503 with Retry-After and backs off',
    async (_name, mode) => {
      const realm = freshRealm();
      // Issued to last a minute: the default minValidSeconds (300) needs a refresh.
      stack.emulator.setAccessTokenLifetime(60);
      await connect(realm);
      const before = await stack.connections().get(realm);
      stack.emulator.setFault({ mode, grantType: 'refresh_token', times: 1 });
      const answer = await accessToken(realm);
      expect(answer.status).toBe(503);
      expect(answer.json).toMatchObject({ error: 'temporarily_unavailable' });
      expect(answer.headers.get('retry-after')).toBe('30');
      const after = await stack.connections().get(realm);
      expect(after?.tokens?.refreshToken).toBe(before?.tokens?.refreshToken);
      expect(after?.refreshFailures).toBe(1);
      // Inside the backoff nobody calls Intuit, whatever the request rate.
      const refreshes = stack.emulator.refreshCount();
      const again = await accessToken(realm);
      expect(again.status).toBe(503);
      expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(stack.emulator.refreshCount()).toBe(refreshes);
      expect(logs('REFRESH_AMBIGUOUS').some((l) => l['realmId'] === realm)).toBe(true);
    },
  );
});

describe('a refresh token Intuit refuses (D6) and the reconnect that heals it', () => {
  const realm = freshRealm();

  it('D6: invalid_grant makes the connection reconnect_required, logs intuit_tid, and stops refreshing', async () => {
    // Issued to last a minute: the default minValidSeconds (300) needs a refresh.
    stack.emulator.setAccessTokenLifetime(60);
    await connect(realm);
    stack.emulator.disconnectCompany(realm);
    const answer = await accessToken(realm);
    expect(answer.status).toBe(409);
    expect(answer.json).toEqual({
      error: 'reconnect_required',
      message: expect.any(String),
      reason: 'refresh_token_invalid',
      reconnectUrl: `${new URL(stack.config.redirectUri).origin}/connect`,
    });
    const logged = logs('REFRESH_INVALID_GRANT').find((l) => l['realmId'] === realm);
    expect(logged?.['intuitTid']).toEqual(expect.any(String));
    const refreshes = stack.emulator.refreshCount();
    expect((await accessToken(realm)).status).toBe(409);
    expect(stack.emulator.refreshCount()).toBe(refreshes);
    expect((await api('GET', `/api/connections/${realm}`)).json).toMatchObject({
      status: 'reconnect_required',
      reconnectReason: 'refresh_token_invalid',
    });
  });

  it('D6: a new flow for that company makes it active again', async () => {
    stack.emulator.setAccessTokenLifetime(3600);
    await connect(realm);
    expect((await api('GET', `/api/connections/${realm}`)).json).toMatchObject({ status: 'active' });
    expect((await accessToken(realm)).status).toBe(200);
  });
});

describe('disconnect (D7)', () => {
  it('D7: deletes the tokens, keeps the record disconnected, revokes at Intuit; access-token then answers 409', async () => {
    const realm = freshRealm();
    await connect(realm);
    const refreshToken = (await stack.connections().get(realm))?.tokens?.refreshToken ?? '';
    const revocations = stack.emulator.revocationRequests();
    const answer = await api('DELETE', `/api/connections/${realm}`);
    expect(answer.status).toBe(204);
    expect(answer.text).toBe('');
    expect(stack.emulator.revocationRequests()).toBe(revocations + 1);
    expect(stack.emulator.refreshTokenState(refreshToken)).toBe('revoked');
    const described = await api('GET', `/api/connections/${realm}`);
    expect(described.json).toMatchObject({ status: 'disconnected' });
    expect(described.json['accessTokenExpiresAt']).toBeUndefined();
    const item = await stack.connection(realm);
    expect(item?.['sealedTokens']).toBeUndefined();
    const after = await accessToken(realm);
    expect(after.status).toBe(409);
    expect(after.json).toMatchObject({ reason: 'disconnected' });
  });

  it('D7: a revoke Intuit fails is logged and counted; the deletion stands and the app gets 204', async () => {
    const realm = freshRealm();
    await connect(realm);
    stack.emulator.setRevokeFault({ mode: 'status500' });
    const answer = await api('DELETE', `/api/connections/${realm}`);
    expect(answer.status).toBe(204);
    expect(logs('REVOKE_FAILED').some((l) => l['realmId'] === realm && l['status'] === 500)).toBe(true);
    expect((await stack.connections().get(realm))?.status).toBe('DISCONNECTED');
  });
});

describe('keep-alive', () => {
  it('refreshes an idle connection whose 100-day window runs short, and only that one', async () => {
    const idle = freshRealm();
    const fresh = freshRealm();
    stack.emulator.setRefreshTokenLifetime(20 * 24 * 3600);
    await connect(idle);
    stack.emulator.setRefreshTokenLifetime(100 * 24 * 3600);
    await connect(fresh);
    const idleBefore = await stack.connections().get(idle);
    const freshBefore = await stack.connections().get(fresh);
    const report = await stack.runKeepAlive();
    expect(report.outcomes.refreshed).toBeGreaterThanOrEqual(1);
    expect((await stack.connections().get(idle))?.version).toBe((idleBefore?.version ?? 0) + 1);
    expect((await stack.connections().get(fresh))?.version).toBe(freshBefore?.version);
    expect(logs('KEEP_ALIVE_RUN').length).toBeGreaterThan(0);
    await rememberStoredTokens(idle);
  });
});

describe('connections stored before encryption', () => {
  it('H3: a plaintext item is served, then sealed and indexed on first touch with its version unchanged', async () => {
    const realm = freshRealm();
    await connect(realm);
    const sealed = await stack.connections().get(realm);
    const documents = DynamoDBDocumentClient.from(
      new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.dynamoDbEndpoint }),
    );
    const legacyAccess = sealed?.tokens?.accessToken ?? '';
    await documents.send(
      new PutCommand({
        TableName: stack.tables.connection,
        Item: {
          realmId: realm,
          status: 'ACTIVE',
          version: 7,
          grantedAt: Date.now() - 1000,
          connectedAt: Date.now() - 1000,
          qboEnvironment: 'sandbox',
          companyName: COMPANIES[realm],
          accessToken: legacyAccess,
          refreshToken: sealed?.tokens?.refreshToken,
          accessTokenExpiresAt: sealed?.tokens?.accessTokenExpiresAt,
          refreshTokenExpiresAt: sealed?.tokens?.refreshTokenExpiresAt,
        },
      }),
    );
    const answer = await accessToken(realm);
    expect(answer.status).toBe(200);
    expect(answer.json['accessToken']).toBe(legacyAccess);
    const item = await stack.connection(realm);
    expect(item?.['accessToken']).toBeUndefined();
    expect(item?.['refreshToken']).toBeUndefined();
    expect(item?.['sealedTokens']).toBeInstanceOf(Uint8Array);
    expect(item?.['keepAliveShard']).toBe('active');
    expect(item?.['version']).toBe(7);
    expect(logs('LEGACY_CONNECTION_MIGRATED').some((l) => l['realmId'] === realm)).toBe(true);
    documents.destroy();
  });
});

describe('at rest and in the logs', () => {
  it('H3: a scan of both tables shows no token in plaintext', async () => {
    expect(tokensSeen.size).toBeGreaterThan(10);
    const scanned = JSON.stringify([await stack.allConnections(), await stack.allFlowItems()]);
    const asText = (value: unknown): string =>
      JSON.stringify(value, (_key, v: unknown) =>
        v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
      );
    const raw = asText(await stack.allConnections());
    for (const token of tokensSeen) {
      expect(scanned).not.toContain(token);
      expect(raw).not.toContain(token);
      expect(raw).not.toContain(Buffer.from(token).toString('base64'));
    }
  });

  it('F1: no log line holds a token, a refresh token, the client secret or the API key', () => {
    const all = output.text();
    for (const token of tokensSeen) expect(all).not.toContain(token);
    expect(all).not.toContain(CANARY_CLIENT.clientSecret);
    expect(all).not.toContain(stack.apiKey);
  });
});
