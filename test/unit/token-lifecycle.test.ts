/**
 * The token lifecycle as the app API and the refresher use it, over the in-memory connections
 * store (the port contract keeps it honest against DynamoDB) and a scripted token endpoint. Time is
 * injected: every wait advances a fake clock, so no test waits for real time.
 */
import type { Connection, FencedWrite, NewConnection } from '../../lambdas/core/connection-store';
import { StorageUnavailableError } from '../../lambdas/core/errors';
import { runKeepAlive } from '../../lambdas/core/keep-alive';
import type { TokenSet } from '../../lambdas/core/token-endpoint';
import { TokenEndpointError } from '../../lambdas/core/token-endpoint';
import {
  LEASE_POLL_MS,
  LEASE_WAIT_MS,
  REFRESH_BACKOFF,
  REFRESH_LEASE_MS,
  REFRESH_REQUEST_TIMEOUT_MS,
} from '../../lambdas/core/token-budget';
import { TokenLifecycle } from '../../lambdas/core/token-lifecycle';
import { CapturingTelemetry } from './fakes/capturing-telemetry';
import { FakeClock } from './fakes/fake-clock';
import type { Deferred } from './fakes/fake-token-endpoint';
import { deferred, fail, FAKE_TOKENS, FakeTokenEndpoint, succeed } from './fakes/fake-token-endpoint';
import { InMemoryConnectionStore } from './fakes/in-memory-connection-store';
import { CREDENTIALS, FakeCredentials } from './fakes/service-config';

const T0 = Date.UTC(2026, 5, 1, 9, 0, 0);
const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REALM = '9130357712345678';
/** Every token and secret in these tests starts with this, so one search finds any leak (F1). */
const CANARY = /canary-/;

type RefreshAnswer = { tokens: TokenSet; intuitTid?: string };

/** The tokens the callback stored: the access token valid for an hour. */
function granted(changes: Partial<NewConnection> = {}): NewConnection {
  return {
    realmId: REALM,
    grantedAt: T0 - DAY,
    accessToken: 'canary-access-seed-0001',
    refreshToken: 'canary-refresh-seed-0001',
    accessTokenExpiresAt: T0 + HOUR,
    refreshTokenExpiresAt: T0 + 90 * DAY,
    refreshTokenHardExpiresAt: T0 + 4 * 365 * DAY,
    qboEnvironment: 'sandbox',
    companyName: 'Canary Bakery LLC',
    ...changes,
  };
}

const EXPIRED = { accessTokenExpiresAt: T0 - 1 } as const;

/** What a sibling invocation (or a reconnect) stores: valid for an hour. */
function otherTokens(label: string) {
  return {
    accessToken: `canary-access-${label}`,
    refreshToken: `canary-refresh-${label}`,
    accessTokenExpiresAt: T0 + HOUR,
    refreshTokenExpiresAt: T0 + 100 * DAY,
  };
}

function answer(label: string): RefreshAnswer {
  return {
    tokens: {
      ...FAKE_TOKENS,
      accessToken: `canary-access-${label}`,
      refreshToken: `canary-refresh-${label}`,
    },
    intuitTid: `1-tid-${label}`,
  };
}

const worlds: World[] = [];

/** One company's connection, the lifecycle and everything it talks to. */
class World {
  readonly clock = new FakeClock(T0);
  readonly endpoint = new FakeTokenEndpoint();
  readonly credentials = new FakeCredentials();
  readonly telemetry = new CapturingTelemetry();
  readonly lifecycle: TokenLifecycle;
  private holders = 0;

  constructor(readonly store: InMemoryConnectionStore = new InMemoryConnectionStore()) {
    this.lifecycle = new TokenLifecycle({
      store,
      tokenEndpoint: this.endpoint,
      credentials: this.credentials,
      telemetry: this.telemetry,
      clock: this.clock.now,
      sleep: this.clock.sleep,
      newHolderId: () => `holder-${++this.holders}`,
    });
    worlds.push(this);
  }

  static connected(changes: Partial<NewConnection> = {}, store?: InMemoryConnectionStore): World {
    const world = new World(store);
    expect(world.store.putVerified(granted(changes))).toBe('stored');
    return world;
  }

  accessToken(minValidSeconds = 300, budgetMs = 25_000) {
    return this.lifecycle.accessToken(REALM, minValidSeconds * SECOND, this.clock.now() + budgetMs);
  }

  /** The stored connection as it is now (the test fails if there is none). */
  stored(realmId = REALM): Connection {
    const connection = this.store.connections.get(realmId);
    if (connection === undefined) throw new Error(`no connection ${realmId}`);
    return connection;
  }

  /** The next refresh waits for the test to answer it. */
  deferRefresh(): Deferred<RefreshAnswer> {
    const pending = deferred<RefreshAnswer>();
    this.endpoint.refreshScript = [{ kind: 'deferred', deferred: pending }];
    return pending;
  }
}

/** Lets pending promises run until `condition` holds (no real time passes). */
async function settle(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1000 && !condition(); turn++)
    await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}

afterEach(() => {
  // F1: whatever a test did, no log line, metric or gauge carries a token or a secret.
  for (const world of worlds.splice(0)) expect(world.telemetry.dump()).not.toMatch(CANARY);
});

describe('TokenLifecycle.accessToken', () => {
  describe('given a stored access token valid for long enough', () => {
    it('serves it as stored, without asking Intuit', async () => {
      const w = World.connected();
      const result = await w.accessToken(300);
      expect(result).toMatchObject({
        kind: 'token',
        refreshed: false,
        tokens: { accessToken: 'canary-access-seed-0001', accessTokenExpiresAt: T0 + HOUR },
      });
      expect(w.endpoint.refreshes).toHaveLength(0);
      expect(w.stored().version).toBe(1);
    });

    it('answers not-found for a company that was never connected', async () => {
      const w = new World();
      await expect(w.accessToken()).resolves.toEqual({ kind: 'not-found' });
      expect(w.endpoint.refreshes).toHaveLength(0);
    });
  });

  describe('given an access token that expired or is valid for less than asked', () => {
    it.each([
      ['expired', T0 - 1],
      ['valid for 200 s when 300 s are asked', T0 + 200 * SECOND],
    ])(
      'D3: %s: refreshes exactly once and stores the new access token and the rotated refresh token in one write',
      async (_case, accessTokenExpiresAt) => {
        const w = World.connected({ accessTokenExpiresAt });
        const writes = jest.spyOn(w.store, 'storeRefreshedTokens');

        const result = await w.accessToken(300);

        expect(w.endpoint.refreshes).toEqual([
          {
            refreshToken: 'canary-refresh-seed-0001',
            credentials: CREDENTIALS,
            timeoutMs: REFRESH_REQUEST_TIMEOUT_MS,
          },
        ]);
        const refreshed = {
          accessToken: 'canary-access-token-rotated-1',
          refreshToken: 'canary-refresh-token-rotated-1',
          accessTokenExpiresAt: T0 + FAKE_TOKENS.expiresInSeconds * SECOND,
          refreshTokenExpiresAt: T0 + FAKE_TOKENS.refreshTokenExpiresInSeconds * SECOND,
          refreshTokenHardExpiresAt: T0 + (FAKE_TOKENS.refreshTokenHardExpiresInSeconds ?? 0) * SECOND,
        };
        expect(result).toMatchObject({ kind: 'token', refreshed: true, tokens: refreshed });
        expect(writes).toHaveBeenCalledTimes(1);
        expect(writes).toHaveBeenCalledWith(REALM, 1, refreshed, T0);
        expect(w.stored()).toMatchObject({ version: 2, tokens: refreshed, lastRefreshedAt: T0 });
        expect(w.stored().refreshLease).toBeUndefined();
        expect(w.telemetry.single('TOKEN_REFRESHED').fields).toMatchObject({
          realmId: REALM,
          version: 2,
          storeAttempts: 1,
          intuitTid: '1-5f0c2a7e9b3d4c1a2b3c4d5e',
        });
      },
    );

    it('D3: over two successive refreshes, the second sends the refresh token the first one rotated', async () => {
      const w = World.connected(EXPIRED);
      await w.accessToken();
      w.clock.advance(HOUR);
      const second = await w.accessToken();

      expect(w.endpoint.refreshes.map((r) => r.refreshToken)).toEqual([
        'canary-refresh-seed-0001',
        'canary-refresh-token-rotated-1',
      ]);
      expect(second).toMatchObject({
        kind: 'token',
        tokens: { accessToken: 'canary-access-token-rotated-2' },
      });
      expect(w.stored()).toMatchObject({
        version: 3,
        tokens: { refreshToken: 'canary-refresh-token-rotated-2' },
        lastRefreshedAt: T0 + HOUR,
      });
    });

    it('C4: with too little time left for a refresh and its store, gives the lease back without calling Intuit', async () => {
      const w = World.connected(EXPIRED);
      await expect(w.accessToken(300, 5_000)).resolves.toEqual({ kind: 'unavailable', retryAfterSeconds: 1 });
      expect(w.endpoint.refreshes).toHaveLength(0);
      expect(w.stored().refreshLease).toBeUndefined();
      expect(w.telemetry.codes()).toContain('TIME_BUDGET_EXHAUSTED');
    });
  });

  describe('single flight (D4)', () => {
    it('D4: 10 concurrent calls on an expired token make exactly 1 refresh request and all get the same new token', async () => {
      const w = World.connected(EXPIRED);
      const refresh = w.deferRefresh();
      const gate = deferred<void>();
      // Every waiter blocks in its first poll until the test lets it look again.
      w.clock.onSleep = () => gate.promise;

      const calls = Array.from({ length: 10 }, () => w.accessToken());
      await settle(() => w.endpoint.refreshes.length === 1 && w.clock.sleeps.length === 9);
      refresh.resolve(answer('storm'));
      await settle(() => w.stored().version === 2);
      gate.resolve();
      const results = await Promise.all(calls);

      expect(w.endpoint.refreshes).toHaveLength(1);
      expect(results.map((r) => (r.kind === 'token' ? r.tokens.accessToken : r.kind))).toEqual(
        Array.from({ length: 10 }, () => 'canary-access-storm'),
      );
      expect(results.filter((r) => r.kind === 'token' && r.refreshed)).toHaveLength(1);
      expect(w.stored()).toMatchObject({ version: 2, tokens: { refreshToken: 'canary-refresh-storm' } });
      expect(w.telemetry.single('TOKEN_REFRESHED').fields).toMatchObject({ version: 2 });
    });

    it('D4: a caller that finds the lease held polls until the holder stores its tokens, then serves them without a refresh', async () => {
      const w = World.connected(EXPIRED);
      await w.store.takeRefreshLease(REALM, 'sibling', T0, T0 + REFRESH_LEASE_MS);
      w.clock.onSleep = async () => {
        if (w.clock.sleeps.length === 3)
          await w.store.storeRefreshedTokens(REALM, 1, otherTokens('sibling'), w.clock.now());
      };

      const result = await w.accessToken();

      expect(result).toMatchObject({
        kind: 'token',
        refreshed: false,
        tokens: { accessToken: 'canary-access-sibling' },
      });
      expect(w.endpoint.refreshes).toHaveLength(0);
      expect(w.clock.sleeps).toEqual([LEASE_POLL_MS.first, LEASE_POLL_MS.first * 2, LEASE_POLL_MS.first * 4]);
    });

    it('D4: when the holder never finishes, answers unavailable within the wait bound (REFRESH_WAIT_TIMED_OUT), never refreshing itself', async () => {
      const w = World.connected(EXPIRED);
      const leaseUntil = T0 + REFRESH_LEASE_MS;
      await w.store.takeRefreshLease(REALM, 'stuck', T0, leaseUntil);

      const result = await w.accessToken();

      expect(result).toEqual({
        kind: 'unavailable',
        retryAfterSeconds: Math.ceil((leaseUntil - w.clock.now()) / SECOND),
      });
      expect(w.endpoint.refreshes).toHaveLength(0);
      expect(w.clock.now() - T0).toBeLessThanOrEqual(LEASE_WAIT_MS);
      expect(w.clock.sleeps.every((ms) => ms <= LEASE_POLL_MS.max)).toBe(true);
      expect(w.telemetry.single('REFRESH_WAIT_TIMED_OUT').fields).toEqual({ realmId: REALM });
      expect(w.stored().tokens?.refreshToken).toBe('canary-refresh-seed-0001');
    });

    it('D4: when the holder died and its lease lapsed, a waiter refreshes once itself', async () => {
      const w = World.connected(EXPIRED);
      await w.store.takeRefreshLease(REALM, 'died', T0, T0 + 1_000);

      const result = await w.accessToken();

      expect(result).toMatchObject({
        kind: 'token',
        refreshed: true,
        tokens: { accessToken: 'canary-access-token-rotated-1' },
      });
      expect(w.endpoint.refreshes).toHaveLength(1);
      expect(w.stored().version).toBe(2);
    });
  });

  describe('the fence (D5)', () => {
    it('D5: a reconnect landing during a refresh wins: the refresh write is superseded and the reconnect tokens stay', async () => {
      const w = World.connected(EXPIRED);
      const refresh = w.deferRefresh();
      const call = w.accessToken();
      await settle(() => w.endpoint.refreshes.length === 1);
      expect(w.store.putVerified({ ...granted(), ...otherTokens('reconnect'), grantedAt: T0 })).toBe(
        'stored',
      );
      refresh.resolve(answer('late'));

      const result = await call;

      expect(result).toMatchObject({ kind: 'token', tokens: { accessToken: 'canary-access-reconnect' } });
      expect(w.stored()).toMatchObject({
        version: 2,
        grantedAt: T0,
        tokens: { accessToken: 'canary-access-reconnect', refreshToken: 'canary-refresh-reconnect' },
      });
      expect(w.telemetry.single('REFRESH_SUPERSEDED').fields).toMatchObject({ realmId: REALM });
      expect(w.telemetry.codes()).not.toContain('TOKEN_REFRESHED');
    });

    it('D3: when the store fails after a good refresh, the new access token is still served and REFRESH_STORE_FAILED says so', async () => {
      class FailingStore extends InMemoryConnectionStore {
        storeCalls = 0;
        override async storeRefreshedTokens(
          ...args: Parameters<InMemoryConnectionStore['storeRefreshedTokens']>
        ): Promise<FencedWrite> {
          this.storeCalls += 1;
          if (this.storeCalls <= 3)
            throw new StorageUnavailableError(
              'storeRefreshedTokens',
              'ProvisionedThroughputExceededException',
            );
          return super.storeRefreshedTokens(...args);
        }
      }
      const store = new FailingStore();
      const w = World.connected(EXPIRED, store);

      const result = await w.accessToken();

      expect(result).toMatchObject({
        kind: 'token',
        refreshed: true,
        tokens: { accessToken: 'canary-access-token-rotated-1' },
      });
      expect(store.storeCalls).toBe(3);
      expect(w.telemetry.single('REFRESH_STORE_FAILED').fields).toMatchObject({
        realmId: REALM,
        storeAttempts: 3,
      });
      expect(w.stored()).toMatchObject({ version: 1, tokens: { refreshToken: 'canary-refresh-seed-0001' } });
    });
  });

  describe('an ambiguous refresh (D6)', () => {
    it('D6: keeps the stored tokens, backs off 30 s, answers without calling Intuit until then, then 60 s, and a success clears it', async () => {
      const w = World.connected(EXPIRED);
      w.endpoint.refreshScript = [fail('ambiguous', { transportCode: 'ETIMEDOUT' })];

      await expect(w.accessToken()).resolves.toEqual({ kind: 'unavailable', retryAfterSeconds: 30 });
      expect(w.stored()).toMatchObject({
        status: 'ACTIVE',
        version: 1,
        refreshFailures: 1,
        refreshRetryAt: T0 + REFRESH_BACKOFF.firstMs,
        tokens: { refreshToken: 'canary-refresh-seed-0001' },
      });
      expect(w.stored().refreshLease).toBeUndefined();
      expect(w.telemetry.single('REFRESH_AMBIGUOUS').fields).toMatchObject({
        realmId: REALM,
        transportCode: 'ETIMEDOUT',
        refreshFailures: 1,
        retryAfterSeconds: 30,
      });

      w.clock.advance(10 * SECOND);
      await expect(w.accessToken()).resolves.toEqual({ kind: 'unavailable', retryAfterSeconds: 20 });
      expect(w.endpoint.refreshes).toHaveLength(1);
      expect(w.telemetry.single('REFRESH_BACKING_OFF').fields).toMatchObject({
        realmId: REALM,
        refreshFailures: 1,
      });

      w.clock.advance(20 * SECOND);
      await expect(w.accessToken()).resolves.toEqual({ kind: 'unavailable', retryAfterSeconds: 60 });
      expect(w.endpoint.refreshes).toHaveLength(2);
      expect(w.stored()).toMatchObject({ refreshFailures: 2, refreshRetryAt: w.clock.now() + 60 * SECOND });

      w.endpoint.refreshScript = [succeed()];
      w.clock.advance(60 * SECOND);
      await expect(w.accessToken()).resolves.toMatchObject({ kind: 'token', refreshed: true });
      expect(w.endpoint.refreshes).toHaveLength(3);
      expect(w.stored().refreshFailures).toBeUndefined();
      expect(w.stored().refreshRetryAt).toBeUndefined();
      // The second ambiguous refresh sent the same stored token: nothing rotated in between.
      expect(w.endpoint.refreshes.map((r) => r.refreshToken)).toEqual(
        Array.from({ length: 3 }, () => 'canary-refresh-seed-0001'),
      );
    });

    it('a request that provably never left (unreachable) keeps the tokens and records no backoff', async () => {
      const w = World.connected(EXPIRED);
      w.endpoint.refreshScript = [fail('unreachable', { transportCode: 'ECONNREFUSED' })];
      await expect(w.accessToken()).resolves.toEqual({ kind: 'unavailable', retryAfterSeconds: 5 });
      expect(w.stored().refreshFailures).toBeUndefined();
      expect(w.stored().refreshLease).toBeUndefined();
      expect(w.stored().tokens?.refreshToken).toBe('canary-refresh-seed-0001');
    });
  });

  describe('invalid_grant on refresh (D6)', () => {
    it('D6: with nobody else changing anything, the connection becomes RECONNECT_REQUIRED and is never refreshed again', async () => {
      const w = World.connected(EXPIRED);
      w.endpoint.refreshScript = [
        fail('invalid_grant', { status: 400, oauthError: 'invalid_grant', intuitTid: '1-tid-refused' }),
      ];

      const result = await w.accessToken();

      expect(result).toMatchObject({ kind: 'reconnect-required', reason: 'refresh_token_invalid' });
      expect(w.stored()).toMatchObject({
        status: 'RECONNECT_REQUIRED',
        reconnectReason: 'refresh_token_invalid',
        version: 2,
      });
      expect(w.stored().tokens).toBeUndefined();
      const event = w.telemetry.single('REFRESH_INVALID_GRANT');
      expect(event.fields).toMatchObject({ realmId: REALM, intuitTid: '1-tid-refused', version: 1 });
      expect(event.metrics).toEqual(['RefreshInvalidGrant']);

      w.clock.advance(DAY);
      await expect(w.accessToken()).resolves.toMatchObject({
        kind: 'reconnect-required',
        reason: 'refresh_token_invalid',
      });
      expect(w.endpoint.refreshes).toHaveLength(1);
      expect(w.telemetry.codes().filter((c) => c === 'REFRESH_INVALID_GRANT')).toHaveLength(1);
    });

    it('D6: invalid_grant because a sibling rotated the token first: the re-read turns it into success with the sibling token', async () => {
      const w = World.connected(EXPIRED);
      const refresh = w.deferRefresh();
      const call = w.accessToken();
      await settle(() => w.endpoint.refreshes.length === 1);
      // A sibling whose lease lapsed stored its rotation; Intuit now refuses the token we sent.
      await w.store.storeRefreshedTokens(REALM, 1, otherTokens('sibling'), T0);
      refresh.reject(new TokenEndpointError('invalid_grant', { status: 400, oauthError: 'invalid_grant' }));

      const result = await call;

      expect(result).toMatchObject({
        kind: 'token',
        refreshed: false,
        tokens: { accessToken: 'canary-access-sibling' },
      });
      expect(w.stored()).toMatchObject({ status: 'ACTIVE', version: 2 });
      expect(w.telemetry.codes()).not.toContain('REFRESH_INVALID_GRANT');
      expect(w.endpoint.refreshes).toHaveLength(1);
    });

    it('a reconnect makes the company refreshable again', async () => {
      const w = World.connected(EXPIRED);
      w.endpoint.refreshScript = [fail('invalid_grant', { status: 400, oauthError: 'invalid_grant' })];
      await w.accessToken();
      w.store.putVerified({ ...granted(), ...otherTokens('reconnect'), grantedAt: T0 });
      await expect(w.accessToken()).resolves.toMatchObject({
        kind: 'token',
        tokens: { accessToken: 'canary-access-reconnect' },
      });
      expect(w.stored().status).toBe('ACTIVE');
    });
  });

  describe('invalid_client on refresh', () => {
    it('answers unavailable, invalidates the cached credentials and keeps the tokens (REFRESH_INVALID_CLIENT)', async () => {
      const w = World.connected(EXPIRED);
      w.endpoint.refreshScript = [fail('invalid_client', { status: 401, oauthError: 'invalid_client' })];

      await expect(w.accessToken()).resolves.toEqual({ kind: 'unavailable', retryAfterSeconds: 60 });

      expect(w.credentials.invalidations).toBe(1);
      expect(w.stored()).toMatchObject({ status: 'ACTIVE', version: 1 });
      expect(w.stored().tokens?.refreshToken).toBe('canary-refresh-seed-0001');
      expect(w.stored().refreshLease).toBeUndefined();
      expect(w.telemetry.single('REFRESH_INVALID_CLIENT').fields).toMatchObject({
        realmId: REALM,
        status: 401,
      });
    });
  });

  describe('a refresh token past its expiry', () => {
    it.each([
      ['its rolling 100-day expiry', { refreshTokenExpiresAt: T0 - 1 }],
      ['its 5-year hard expiry', { refreshTokenHardExpiresAt: T0 - 1 }],
    ])(
      'D6: past %s: reconnect required (refresh_token_expired) without calling Intuit',
      async (_case, changes) => {
        const w = World.connected({ ...EXPIRED, ...changes });

        await expect(w.accessToken()).resolves.toMatchObject({
          kind: 'reconnect-required',
          reason: 'refresh_token_expired',
        });

        expect(w.endpoint.refreshes).toHaveLength(0);
        expect(w.stored()).toMatchObject({
          status: 'RECONNECT_REQUIRED',
          reconnectReason: 'refresh_token_expired',
        });
        expect(w.telemetry.single('REFRESH_TOKEN_EXPIRED').fields).toMatchObject({ realmId: REALM });
      },
    );
  });

  describe('connections stored before encryption', () => {
    it('migrates a legacy connection on first touch (LEGACY_CONNECTION_MIGRATED), once, keeping its version', async () => {
      const w = World.connected();
      w.store.connections.set(REALM, { ...w.stored(), legacy: true });

      await expect(w.accessToken()).resolves.toMatchObject({
        kind: 'token',
        tokens: { accessToken: 'canary-access-seed-0001' },
      });
      await w.accessToken();

      expect(w.stored().legacy).toBeUndefined();
      expect(w.stored().version).toBe(1);
      expect(w.telemetry.single('LEGACY_CONNECTION_MIGRATED').fields).toEqual({ realmId: REALM });
    });
  });

  it('F1: no log event, metric or gauge of any refresh path carries a token or a client secret', async () => {
    const paths: Array<(w: World) => void> = [
      () => undefined,
      (w) => (w.endpoint.refreshScript = [fail('ambiguous', { status: 503 })]),
      (w) =>
        (w.endpoint.refreshScript = [fail('invalid_grant', { status: 400, oauthError: 'invalid_grant' })]),
      (w) => (w.endpoint.refreshScript = [fail('invalid_client', { status: 401 })]),
      (w) => (w.endpoint.refreshScript = [fail('malformed', { status: 200 })]),
    ];
    const dumps: string[] = [];
    for (const prepare of paths) {
      const w = World.connected(EXPIRED);
      prepare(w);
      await w.accessToken();
      dumps.push(w.telemetry.dump());
    }
    expect(dumps.join('\n')).toMatch(/TOKEN_REFRESHED|REFRESH_AMBIGUOUS/);
    for (const dump of dumps) {
      expect(dump).not.toMatch(CANARY);
      expect(dump).not.toContain(CREDENTIALS.clientSecret);
    }
  });
});

describe('TokenLifecycle.keepAlive', () => {
  it('leaves a connection whose refresh window is far from closing alone (not-due, no refresh)', async () => {
    const w = World.connected({ refreshTokenExpiresAt: T0 + 90 * DAY });
    await expect(w.lifecycle.keepAlive(REALM, T0 + 60_000)).resolves.toBe('not-due');
    expect(w.endpoint.refreshes).toHaveLength(0);
  });

  it('refreshes an idle connection within a month of its window closing, even with a valid access token (KEEP_ALIVE_REFRESHED)', async () => {
    const w = World.connected({ refreshTokenExpiresAt: T0 + 10 * DAY });
    await expect(w.lifecycle.keepAlive(REALM, T0 + 60_000)).resolves.toBe('refreshed');
    expect(w.endpoint.refreshes).toHaveLength(1);
    expect(w.stored()).toMatchObject({
      version: 2,
      tokens: { refreshToken: 'canary-refresh-token-rotated-1' },
      tokenExpiry: { refreshTokenExpiresAt: T0 + FAKE_TOKENS.refreshTokenExpiresInSeconds * SECOND },
    });
    expect(w.telemetry.single('KEEP_ALIVE_REFRESHED').fields).toEqual({ realmId: REALM });
  });

  it('answers busy when a request holds the lease, and not-due while a backoff runs', async () => {
    const busy = World.connected({ refreshTokenExpiresAt: T0 + 10 * DAY });
    await busy.store.takeRefreshLease(REALM, 'request', T0, T0 + REFRESH_LEASE_MS);
    await expect(busy.lifecycle.keepAlive(REALM, T0 + 60_000)).resolves.toBe('busy');

    const backingOff = World.connected({ refreshTokenExpiresAt: T0 + 10 * DAY });
    await backingOff.store.takeRefreshLease(REALM, 'request', T0, T0 + REFRESH_LEASE_MS);
    await backingOff.store.recordRefreshFailure(REALM, 'request', 1, T0 + 30_000);
    await expect(backingOff.lifecycle.keepAlive(REALM, T0 + 60_000)).resolves.toBe('not-due');
    expect([...busy.endpoint.refreshes, ...backingOff.endpoint.refreshes]).toHaveLength(0);
  });

  it('D6: marks a connection whose refresh token already expired as reconnect required, without calling Intuit', async () => {
    const w = World.connected({ refreshTokenExpiresAt: T0 - 1 });
    await expect(w.lifecycle.keepAlive(REALM, T0 + 60_000)).resolves.toBe('reconnect-required');
    expect(w.endpoint.refreshes).toHaveLength(0);
    expect(w.stored().reconnectReason).toBe('refresh_token_expired');
  });
});

describe('runKeepAlive', () => {
  const realmOf = (i: number) => `91303577${String(i).padStart(8, '0')}`;
  const DUE = [7, 42, 99];
  const WAITING = [3, 4];
  const NEAR_CAP = [10, 11, 12, 13];

  function hundredConnections(): World {
    const w = new World();
    for (let i = 0; i < 100; i++) {
      w.store.putVerified(
        granted({
          realmId: realmOf(i),
          accessToken: `canary-access-${i}`,
          refreshToken: `canary-refresh-${i}`,
          ...(DUE.includes(i) ? { refreshTokenExpiresAt: T0 + 10 * DAY } : {}),
          ...(NEAR_CAP.includes(i) ? { refreshTokenHardExpiresAt: T0 + 10 * DAY } : {}),
        }),
      );
    }
    return w;
  }

  it('refreshes exactly the due connections from one index page, and reports the counts and gauges', async () => {
    const w = hundredConnections();
    for (const i of WAITING) await w.store.markReconnectRequired(realmOf(i), 1, 'refresh_token_invalid');
    const listings = jest.spyOn(w.store, 'listDueForRefresh');

    const report = await runKeepAlive(
      { store: w.store, lifecycle: w.lifecycle, telemetry: w.telemetry, clock: w.clock.now },
      { deadline: T0 + 300_000 },
    );

    expect(w.endpoint.refreshes.map((r) => r.refreshToken).sort()).toEqual(
      DUE.map((i) => `canary-refresh-${i}`).sort(),
    );
    expect(listings).toHaveBeenCalledTimes(1);
    expect(report).toEqual({
      due: 3,
      outcomes: { refreshed: 3, 'not-due': 0, busy: 0, 'reconnect-required': 0, unavailable: 0, error: 0 },
      indexPages: 1,
      reconnectRequired: WAITING.length,
      nearHardExpiry: NEAR_CAP.length,
      nearHardExpiryNotified: NEAR_CAP.length,
      stoppedEarly: false,
    });
    expect(w.telemetry.gauges).toEqual([
      { metric: 'ConnectionsReconnectRequired', value: WAITING.length },
      { metric: 'ConnectionsNearHardExpiry', value: NEAR_CAP.length },
    ]);
    expect(w.telemetry.codes().filter((c) => c === 'KEEP_ALIVE_REFRESHED')).toHaveLength(3);
    expect(w.telemetry.single('KEEP_ALIVE_RUN').fields).toMatchObject({
      due: 3,
      refreshed: 3,
      indexPages: 1,
    });
    // Refreshed connections leave the due set: the next run has nothing to do.
    await expect(w.store.listDueForRefresh(T0, { limit: 100 })).resolves.toEqual({ items: [] });
  });

  it('marks each connection near its 5-year cap once (the Near Hard Expiry event), not again next run', async () => {
    const w = hundredConnections();
    const run = () =>
      runKeepAlive(
        { store: w.store, lifecycle: w.lifecycle, telemetry: w.telemetry, clock: w.clock.now },
        { deadline: T0 + 300_000 },
      );
    await expect(run()).resolves.toMatchObject({ nearHardExpiryNotified: NEAR_CAP.length });
    for (const i of NEAR_CAP) expect(w.stored(realmOf(i)).nearHardExpiryNotifiedFor).toBe(T0 + 10 * DAY);
    await expect(run()).resolves.toMatchObject({ nearHardExpiryNotified: 0 });
  });

  it('pages through the due index when more are due than a page holds', async () => {
    const w = hundredConnections();
    const report = await runKeepAlive(
      { store: w.store, lifecycle: w.lifecycle, telemetry: w.telemetry, clock: w.clock.now },
      { deadline: T0 + 300_000, pageSize: 2 },
    );
    expect(report.due).toBe(3);
    expect(report.outcomes.refreshed).toBe(3);
    expect(report.indexPages).toBe(2);
    expect(w.endpoint.refreshes).toHaveLength(3);
  });

  it('takes no new connection once less than a refresh lease is left before its deadline', async () => {
    const w = hundredConnections();
    const report = await runKeepAlive(
      { store: w.store, lifecycle: w.lifecycle, telemetry: w.telemetry, clock: w.clock.now },
      { deadline: T0 + REFRESH_LEASE_MS - 1 },
    );
    expect(report).toMatchObject({ due: 0, indexPages: 0, stoppedEarly: true });
    expect(w.endpoint.refreshes).toHaveLength(0);
  });
});

describe('TokenLifecycle.confirmDisconnect (I3)', () => {
  const confirm = (w: World) => w.lifecycle.confirmDisconnect(REALM, w.clock.now() + 25_000);

  it('I3: marks the connection DISCONNECTED, tokens removed, only when Intuit refuses the grant', async () => {
    const w = World.connected();
    w.endpoint.refreshScript = [fail('invalid_grant', { status: 400, intuitTid: '1-tid-gone' })];
    await expect(confirm(w)).resolves.toBe('disconnected');
    const after = w.stored();
    expect(after).toMatchObject({ status: 'DISCONNECTED', reconnectReason: 'disconnected' });
    expect(after.tokens).toBeUndefined();
    expect(w.telemetry.single('DISCONNECT_CONFIRMED').fields).toMatchObject({ intuitTid: '1-tid-gone' });
    expect(w.telemetry.codes()).not.toContain('REFRESH_INVALID_GRANT');
  });

  it('I3: a grant that still works is refreshed and stays ACTIVE', async () => {
    const w = World.connected();
    await expect(confirm(w)).resolves.toBe('still-connected');
    expect(w.stored().status).toBe('ACTIVE');
    expect(w.endpoint.refreshes).toHaveLength(1);
  });

  it('I3: asks Intuit at most once per company per hour, and again after it', async () => {
    const w = World.connected();
    await confirm(w);
    await expect(confirm(w)).resolves.toBe('not-checked');
    w.clock.advance(HOUR - 1);
    await expect(confirm(w)).resolves.toBe('not-checked');
    expect(w.endpoint.refreshes).toHaveLength(1);
    w.clock.advance(1);
    await expect(confirm(w)).resolves.toBe('still-connected');
    expect(w.endpoint.refreshes).toHaveLength(2);
  });

  it('I3: an unknown or already inactive company is not checked', async () => {
    const w = new World();
    await expect(confirm(w)).resolves.toBe('not-checked');
    const gone = World.connected();
    await gone.store.markReconnectRequired(REALM, 1, 'refresh_token_invalid');
    await expect(confirm(gone)).resolves.toBe('not-checked');
    expect(gone.endpoint.refreshes).toHaveLength(0);
  });

  it('D6: an ambiguous answer changes nothing but the backoff', async () => {
    const w = World.connected();
    w.endpoint.refreshScript = [fail('ambiguous', { status: 503 })];
    await expect(confirm(w)).resolves.toBe('unavailable');
    expect(w.stored()).toMatchObject({ status: 'ACTIVE', refreshFailures: 1 });
  });
});
