/**
 * The ConnectionStore port's contract (D3-D6), run against the in-memory fake and the DynamoDB
 * adapter on DynamoDB Local. Connections are created the way production creates them: through the
 * ledger's verified-connection transaction.
 */
import type { Connection, ConnectionTokens, NewConnection } from '../../lambdas/core/connection-store';
import { InvalidCursorError } from '../../lambdas/core/errors';
import { KEEP_ALIVE_MARGIN_MS } from '../../lambdas/core/token-budget';
import type { LedgerSubject } from './flow-ledger.contract';
import { connectionOf } from './flow-ledger.contract';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const HOUR = 3_600_000;
let counter = 0;
/**
 * The due-time and hard-expiry indexes are shared by every test on DynamoDB Local: each test that
 * reads them takes its own day, each one earlier than the last, so what earlier tests left behind
 * is never due by a later test's query.
 */
let ownDay = Date.UTC(2012, 0, 1);
function nextOwnDay(): number {
  ownDay -= 24 * HOUR;
  return ownDay;
}

const ROTATED: ConnectionTokens = {
  accessToken: 'access-rotated',
  refreshToken: 'refresh-rotated',
  accessTokenExpiresAt: NOW + 7_200_000,
  refreshTokenExpiresAt: NOW + 9_000_000_000,
  refreshTokenHardExpiresAt: NOW + 157_680_000_000,
};

export function connectionStoreContract(name: string, subject: () => Promise<LedgerSubject>): void {
  describe(`ConnectionStore contract: ${name}`, () => {
    let s: LedgerSubject;
    beforeEach(async () => {
      s = await subject();
    });

    /** A verified connection, stored as the callback stores it (a given realmId: a reconnect). */
    async function connected(changes: Partial<NewConnection> = {}): Promise<string> {
      counter += 1;
      const realmId = changes.realmId ?? `46208163${String(counter).padStart(8, '0')}`;
      const stateHash = `s${realmId}-${counter}`.padEnd(64, '0');
      const codeHash = `k${realmId}-${counter}`.padEnd(64, '0');
      await s.ledger.createFlow({ stateHash, createdAt: NOW - 1000, expiresAt: NOW + 900_000 });
      await s.ledger.claimCode({
        stateHash,
        codeHash,
        realmId,
        reference: 'K7PQ2M9X',
        now: NOW,
        leaseUntil: NOW + 20_000,
        retainUntil: NOW + 86_400_000,
      });
      await expect(
        s.ledger.recordConnection(codeHash, { ...connectionOf(realmId, NOW), ...changes }),
      ).resolves.toBe('stored');
      return realmId;
    }

    /** A connection the refresher should refresh at `dueAt` (a month before its refresh window closes). */
    function dueAt(at: number): Partial<NewConnection> {
      return { accessTokenExpiresAt: at - 1000, refreshTokenExpiresAt: at + KEEP_ALIVE_MARGIN_MS };
    }

    /** Every page of a listing, following its cursors. */
    async function allPages<T>(
      list: (options: {
        limit: number;
        cursor?: string;
      }) => Promise<{ items: readonly T[]; cursor?: string }>,
      limit: number,
    ): Promise<T[][]> {
      const pages: T[][] = [];
      let cursor: string | undefined;
      do {
        const page = await list({ limit, ...(cursor !== undefined ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        pages.push([...page.items]);
        cursor = page.cursor;
      } while (cursor !== undefined && pages.length < 20);
      expect(cursor).toBeUndefined();
      return pages;
    }

    it('reads nothing for an unknown company', async () => {
      await expect(s.connections.get('1111111111')).resolves.toBeUndefined();
    });

    describe('takeRefreshLease (D4)', () => {
      it('D4: gives the lease to one caller at a time, with the item as it is', async () => {
        const realmId = await connected();
        const first = await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        expect(first).toMatchObject({
          kind: 'taken',
          connection: { realmId, version: 1, refreshLease: { holder: 'one', until: NOW + 30_000 } },
        });
        await expect(
          s.connections.takeRefreshLease(realmId, 'two', NOW + 1000, NOW + 31_000),
        ).resolves.toEqual({
          kind: 'held',
          lease: { holder: 'one', until: NOW + 30_000 },
        });
      });

      it('D4: a lease that expired may be taken by someone else', async () => {
        const realmId = await connected();
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        await expect(
          s.connections.takeRefreshLease(realmId, 'two', NOW + 30_000, NOW + 60_000),
        ).resolves.toMatchObject({
          kind: 'taken',
          connection: { refreshLease: { holder: 'two' } },
        });
      });

      it('D4: a released lease may be taken at once; only the holder can release it', async () => {
        const realmId = await connected();
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        await s.connections.releaseRefreshLease(realmId, 'two');
        await expect(
          s.connections.takeRefreshLease(realmId, 'two', NOW, NOW + 30_000),
        ).resolves.toMatchObject({
          kind: 'held',
        });
        await s.connections.releaseRefreshLease(realmId, 'one');
        await expect(
          s.connections.takeRefreshLease(realmId, 'two', NOW, NOW + 30_000),
        ).resolves.toMatchObject({
          kind: 'taken',
        });
      });

      it('D6: refuses a company that is unknown or no longer ACTIVE', async () => {
        await expect(s.connections.takeRefreshLease('2222222222', 'one', NOW, NOW + 1)).resolves.toEqual({
          kind: 'not-active',
        });
        const realmId = await connected();
        await s.connections.markReconnectRequired(realmId, 1, 'refresh_token_invalid');
        await expect(s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 1)).resolves.toMatchObject({
          kind: 'not-active',
          connection: { status: 'RECONNECT_REQUIRED', reconnectReason: 'refresh_token_invalid' },
        });
      });
    });

    describe('storeRefreshedTokens (D3, D5)', () => {
      it('D3: stores the rotated refresh token with the new access token in one write, and frees the lease', async () => {
        const realmId = await connected();
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        await expect(s.connections.storeRefreshedTokens(realmId, 1, ROTATED, NOW + 5)).resolves.toBe(
          'stored',
        );
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({
          version: 2,
          lastRefreshedAt: NOW + 5,
          tokens: ROTATED,
          status: 'ACTIVE',
        });
        expect(after?.refreshLease).toBeUndefined();
      });

      it('D5: a write on an older version (a reconnect got there first) is superseded and changes nothing', async () => {
        const realmId = await connected();
        await s.connections.storeRefreshedTokens(realmId, 1, ROTATED, NOW);
        await expect(
          s.connections.storeRefreshedTokens(realmId, 1, { ...ROTATED, accessToken: 'stale' }, NOW),
        ).resolves.toBe('superseded');
        await expect(s.connections.get(realmId)).resolves.toMatchObject({ version: 2, tokens: ROTATED });
      });

      it('D4: a holder whose lease lapsed while nobody else wrote still stores (the only live refresh token)', async () => {
        const realmId = await connected();
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 10);
        await expect(s.connections.storeRefreshedTokens(realmId, 1, ROTATED, NOW + 60_000)).resolves.toBe(
          'stored',
        );
      });
    });

    describe('markReconnectRequired and markDisconnected (D6)', () => {
      it('D6: marks RECONNECT_REQUIRED on the version read, never over a newer one', async () => {
        const realmId = await connected();
        await expect(s.connections.markReconnectRequired(realmId, 7, 'refresh_token_invalid')).resolves.toBe(
          'superseded',
        );
        await expect(s.connections.markReconnectRequired(realmId, 1, 'refresh_token_invalid')).resolves.toBe(
          'stored',
        );
        await expect(s.connections.get(realmId)).resolves.toMatchObject({
          status: 'RECONNECT_REQUIRED',
          version: 2,
          reconnectReason: 'refresh_token_invalid',
        });
      });

      it('removes the tokens, keeps the record DISCONNECTED and hands back what it removed', async () => {
        const realmId = await connected();
        const result = await s.connections.markDisconnected(realmId, NOW);
        expect(result).toEqual({
          kind: 'disconnected',
          removedTokens: connectionTokens(connectionOf(realmId, NOW)),
        });
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({
          status: 'DISCONNECTED',
          version: 2,
          companyName: 'Company a',
          reconnectReason: 'disconnected',
          disconnectedAt: NOW,
        });
        expect(after?.tokens).toBeUndefined();
        expect(after?.tokenExpiry).toBeUndefined();
        await expect(s.connections.markDisconnected(realmId, NOW)).resolves.toEqual({ kind: 'disconnected' });
        await expect(s.connections.markDisconnected('3333333333', NOW)).resolves.toEqual({
          kind: 'not-found',
        });
      });
    });

    describe('reading without tokens', () => {
      it('H2: get with tokens: false gives the expiry times and the metadata, never the tokens', async () => {
        const realmId = await connected({ tenantId: 'tenant-meta' });
        const connection = await s.connections.get(realmId, { tokens: false });
        expect(connection).toMatchObject({
          realmId,
          status: 'ACTIVE',
          version: 1,
          companyName: 'Company a',
          tenantId: 'tenant-meta',
          tokenExpiry: {
            accessTokenExpiresAt: NOW + 3_600_000,
            refreshTokenExpiresAt: NOW + 8_726_400_000,
            refreshTokenHardExpiresAt: NOW + 157_680_000_000,
          },
        });
        expect(connection?.tokens).toBeUndefined();
        expect(JSON.stringify(connection)).not.toMatch(/access-a|refresh-a/);
      });
    });

    describe('the tokens leave with the connection (D6)', () => {
      it('D6: markReconnectRequired removes the tokens, their times and any backoff', async () => {
        const realmId = await connected();
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        await s.connections.recordRefreshFailure(realmId, 'one', 1, NOW + 30_000);
        await expect(s.connections.markReconnectRequired(realmId, 1, 'refresh_token_invalid')).resolves.toBe(
          'stored',
        );
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({ status: 'RECONNECT_REQUIRED', companyName: 'Company a' });
        expect(after?.tokens).toBeUndefined();
        expect(after?.tokenExpiry).toBeUndefined();
        expect(after?.refreshFailures).toBeUndefined();
        expect(after?.refreshRetryAt).toBeUndefined();
        expect(after?.refreshLease).toBeUndefined();
      });

      it('D5: a reconnect (a newer verified grant) makes a RECONNECT_REQUIRED connection ACTIVE again, with its tokens', async () => {
        const realmId = await connected({ tenantId: 'tenant-reconnect' });
        await s.connections.markReconnectRequired(realmId, 1, 'refresh_token_invalid');
        // The same tenant reconnecting (B7 keeps other tenants and tenantless flows out).
        await connected({ ...connectionOf(realmId, NOW + 1000, 'b'), tenantId: 'tenant-reconnect' });
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({
          status: 'ACTIVE',
          version: 3,
          connectedAt: NOW,
          grantedAt: NOW + 1000,
          tenantId: 'tenant-reconnect',
          tokens: { accessToken: 'access-b', refreshToken: 'refresh-b' },
        });
        expect(after?.reconnectReason).toBeUndefined();
      });
    });

    describe('the Disconnect URL check (I3)', () => {
      it('I3: claimDisconnectCheck lets one caller check an ACTIVE company per interval', async () => {
        const realmId = await connected();
        await expect(s.connections.claimDisconnectCheck(realmId, NOW, 3_600_000)).resolves.toBe(true);
        await expect(s.connections.claimDisconnectCheck(realmId, NOW + 1, 3_600_000)).resolves.toBe(false);
        await expect(s.connections.claimDisconnectCheck(realmId, NOW + 3_600_000, 3_600_000)).resolves.toBe(
          true,
        );
        await expect(s.connections.claimDisconnectCheck('5555555555', NOW, 3_600_000)).resolves.toBe(false);
        await s.connections.markReconnectRequired(realmId, 1, 'refresh_token_invalid');
        await expect(s.connections.claimDisconnectCheck(realmId, NOW + 9_000_000, 3_600_000)).resolves.toBe(
          false,
        );
      });

      it('I3: confirmDisconnected lands on the version read, removes the tokens and keeps the record', async () => {
        const realmId = await connected();
        await expect(s.connections.confirmDisconnected(realmId, 7, NOW)).resolves.toBe('superseded');
        await expect(s.connections.confirmDisconnected(realmId, 1, NOW)).resolves.toBe('stored');
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({ status: 'DISCONNECTED', reconnectReason: 'disconnected', version: 2 });
        expect(after?.tokens).toBeUndefined();
        expect(after?.tokenExpiry).toBeUndefined();
      });
    });

    describe('recordRefreshFailure (D6)', () => {
      it('D6: records the backoff and gives the lease back; the stored tokens and the version stay', async () => {
        const realmId = await connected();
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        await s.connections.recordRefreshFailure(realmId, 'one', 2, NOW + 60_000);
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({
          status: 'ACTIVE',
          version: 1,
          refreshFailures: 2,
          refreshRetryAt: NOW + 60_000,
          tokens: connectionTokens(connectionOf(realmId, NOW)),
        });
        expect(after?.refreshLease).toBeUndefined();
        // The lease is free at once: the backoff, not the lease, holds the next refresh back.
        await expect(
          s.connections.takeRefreshLease(realmId, 'two', NOW + 1, NOW + 30_000),
        ).resolves.toMatchObject({ kind: 'taken' });
      });

      it('D4: only the holder of the lease records a failure; anyone else changes nothing', async () => {
        const realmId = await connected();
        await s.connections.recordRefreshFailure(realmId, 'nobody', 1, NOW + 30_000);
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        await s.connections.recordRefreshFailure(realmId, 'two', 1, NOW + 30_000);
        const after = await s.connections.get(realmId);
        expect(after?.refreshFailures).toBeUndefined();
        expect(after?.refreshRetryAt).toBeUndefined();
        expect(after?.refreshLease).toEqual({ holder: 'one', until: NOW + 30_000 });
        await expect(
          s.connections.recordRefreshFailure('4444444444', 'one', 1, NOW),
        ).resolves.toBeUndefined();
      });

      it('D6: a stored refresh clears the backoff', async () => {
        const realmId = await connected();
        await s.connections.takeRefreshLease(realmId, 'one', NOW, NOW + 30_000);
        await s.connections.recordRefreshFailure(realmId, 'one', 3, NOW + 120_000);
        await s.connections.takeRefreshLease(realmId, 'two', NOW + 120_000, NOW + 150_000);
        await expect(s.connections.storeRefreshedTokens(realmId, 1, ROTATED, NOW + 120_001)).resolves.toBe(
          'stored',
        );
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({ version: 2, tokens: ROTATED, lastRefreshedAt: NOW + 120_001 });
        expect(after?.refreshFailures).toBeUndefined();
        expect(after?.refreshRetryAt).toBeUndefined();
        expect(after?.refreshLease).toBeUndefined();
      });
    });

    describe('listByTenant', () => {
      it("lists a tenant's connections page by page, without tokens, and no other tenant's", async () => {
        counter += 1;
        const tenant = `tenant-${counter}-${Math.random().toString(36).slice(2, 8)}`;
        const mine = [
          await connected({ tenantId: tenant }),
          await connected({ tenantId: tenant }),
          await connected({ tenantId: tenant }),
        ].sort();
        await connected({ tenantId: `${tenant}-other` });
        await connected();

        const pages = await allPages((options) => s.connections.listByTenant(tenant, options), 2);

        expect(pages.map((page) => page.length)).toEqual([2, 1]);
        const listed = pages.flat();
        expect(listed.map((c) => c.realmId)).toEqual(mine);
        for (const connection of listed) {
          expect(connection).toEqual({
            realmId: connection.realmId,
            status: 'ACTIVE',
            version: 1,
            grantedAt: NOW,
            connectedAt: NOW,
            qboEnvironment: 'sandbox',
            companyName: 'Company a',
            tenantId: tenant,
            tokenExpiry: {
              accessTokenExpiresAt: NOW + 3_600_000,
              refreshTokenExpiresAt: NOW + 8_726_400_000,
              refreshTokenHardExpiresAt: NOW + 157_680_000_000,
            },
          } satisfies Connection);
        }
        expect(JSON.stringify(listed)).not.toMatch(/access-a|refresh-a/);
      });

      it('B7: a disconnected connection leaves its tenant (the binding is released), and an unknown tenant has no connections', async () => {
        counter += 1;
        const tenant = `tenant-${counter}-gone`;
        const realmId = await connected({ tenantId: tenant });
        await expect(s.connections.listByTenant(tenant, { limit: 10 })).resolves.toMatchObject({
          items: [{ realmId, status: 'ACTIVE', tenantId: tenant }],
        });
        await s.connections.markDisconnected(realmId, NOW);
        const page = await s.connections.listByTenant(tenant, { limit: 10 });
        expect(page.items).toHaveLength(0);
        const after = await s.connections.get(realmId);
        expect(after).toMatchObject({ realmId, status: 'DISCONNECTED', reconnectReason: 'disconnected' });
        expect(after?.tenantId).toBeUndefined();
        expect(after?.tokenExpiry).toBeUndefined();
        await expect(s.connections.listByTenant(`${tenant}-none`, { limit: 10 })).resolves.toEqual({
          items: [],
        });
      });

      it('a full last page still carries a cursor (the store cannot know it is the last); following it ends the listing', async () => {
        counter += 1;
        const tenant = `tenant-${counter}-full`;
        await connected({ tenantId: tenant });
        await connected({ tenantId: tenant });
        const pages = await allPages((options) => s.connections.listByTenant(tenant, options), 2);
        expect(pages.map((page) => page.length)).toEqual([2, 0]);
      });

      it('refuses a cursor it did not issue with InvalidCursorError', async () => {
        await expect(
          s.connections.listByTenant('tenant-any', { limit: 2, cursor: 'not a cursor!' }),
        ).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(
          s.connections.listDueForRefresh(NOW, { limit: 2, cursor: '%%%' }),
        ).rejects.toBeInstanceOf(InvalidCursorError);
        // Well-formed JSON of the wrong key shape: still the caller's mistake, never "try again".
        const forged = Buffer.from(JSON.stringify({ realmId: '1' })).toString('base64url');
        await expect(
          s.connections.listByTenant('tenant-any', { limit: 2, cursor: forged }),
        ).rejects.toBeInstanceOf(InvalidCursorError);
      });
    });

    describe('listDueForRefresh (keep-alive)', () => {
      it('lists only ACTIVE connections due by the time asked, oldest first, page by page', async () => {
        const day = nextOwnDay();
        const late = await connected(dueAt(day + 3 * HOUR));
        const early = await connected(dueAt(day + 1 * HOUR));
        const middle = await connected(dueAt(day + 2 * HOUR));
        await connected(dueAt(day + 5 * HOUR)); // not due yet

        const pages = await allPages(
          (options) => s.connections.listDueForRefresh(day + 4 * HOUR, options),
          2,
        );

        expect(pages).toEqual([[early, middle], [late]]);
        await expect(s.connections.listDueForRefresh(day + 1 * HOUR, { limit: 10 })).resolves.toEqual({
          items: [early],
        });
        await expect(s.connections.listDueForRefresh(day, { limit: 10 })).resolves.toEqual({ items: [] });
      });

      it('a cursor holds its place when listed connections leave the due set between pages (the refresher refreshes as it reads)', async () => {
        const day = nextOwnDay();
        const due = [
          await connected(dueAt(day + 1 * HOUR)),
          await connected(dueAt(day + 2 * HOUR)),
          await connected(dueAt(day + 3 * HOUR)),
        ];
        const first = await s.connections.listDueForRefresh(day + 4 * HOUR, { limit: 2 });
        expect(first.items).toEqual(due.slice(0, 2));
        for (const realmId of first.items) await s.connections.storeRefreshedTokens(realmId, 1, ROTATED, NOW);
        const second = await s.connections.listDueForRefresh(day + 4 * HOUR, {
          limit: 2,
          ...(first.cursor !== undefined ? { cursor: first.cursor } : {}),
        });
        expect(first.cursor).toBeDefined();
        expect(second).toEqual({ items: due.slice(2) });
      });

      it('D6: never lists a connection that waits for a reconnect or was disconnected', async () => {
        const day = nextOwnDay();
        const active = await connected(dueAt(day + 1 * HOUR));
        const reconnect = await connected(dueAt(day + 2 * HOUR));
        const disconnected = await connected(dueAt(day + 3 * HOUR));
        await s.connections.markReconnectRequired(reconnect, 1, 'refresh_token_invalid');
        await s.connections.markDisconnected(disconnected, NOW);
        await expect(s.connections.listDueForRefresh(day + 4 * HOUR, { limit: 10 })).resolves.toEqual({
          items: [active],
        });
      });

      it('a refreshed connection leaves the due set; a failed refresh comes back when its backoff ends', async () => {
        const day = nextOwnDay();
        const refreshed = await connected(dueAt(day + 1 * HOUR));
        const failed = await connected(dueAt(day + 2 * HOUR));
        await s.connections.takeRefreshLease(refreshed, 'one', NOW, NOW + 30_000);
        await s.connections.storeRefreshedTokens(refreshed, 1, ROTATED, NOW);
        await s.connections.takeRefreshLease(failed, 'one', NOW, NOW + 30_000);
        await s.connections.recordRefreshFailure(failed, 'one', 1, day + 6 * HOUR);

        await expect(s.connections.listDueForRefresh(day + 5 * HOUR, { limit: 10 })).resolves.toEqual({
          items: [],
        });
        await expect(s.connections.listDueForRefresh(day + 6 * HOUR, { limit: 10 })).resolves.toEqual({
          items: [failed],
        });
      });

      it('a failed refresh of a connection not yet due for keep-alive does not bring it into the due set before its time', async () => {
        const day = nextOwnDay();
        const notDue = await connected(dueAt(day + 10 * HOUR));
        await s.connections.takeRefreshLease(notDue, 'one', NOW, NOW + 30_000);
        await s.connections.recordRefreshFailure(notDue, 'one', 1, day + 1 * HOUR);
        await expect(s.connections.listDueForRefresh(day + 9 * HOUR, { limit: 10 })).resolves.toEqual({
          items: [],
        });
        await expect(s.connections.listDueForRefresh(day + 10 * HOUR, { limit: 10 })).resolves.toEqual({
          items: [notDue],
        });
      });
    });

    describe('counts for the gauges', () => {
      it('countReconnectRequired counts the connections waiting for their user, until they reconnect', async () => {
        const before = await s.connections.countReconnectRequired();
        const waiting = await connected();
        const disconnected = await connected();
        await connected();
        await s.connections.markReconnectRequired(waiting, 1, 'refresh_token_expired');
        await s.connections.markDisconnected(disconnected, NOW);
        await expect(s.connections.countReconnectRequired()).resolves.toBe(before + 1);
        await connected({ ...connectionOf(waiting, NOW + 1000, 'b') });
        await expect(s.connections.countReconnectRequired()).resolves.toBe(before);
      });

      it('countNearHardExpiry counts ACTIVE connections whose 5-year cap falls by the time asked', async () => {
        const day = nextOwnDay();
        const before = await s.connections.countNearHardExpiry(day + 10 * HOUR);
        await connected({ refreshTokenHardExpiresAt: day + 1 * HOUR });
        await connected({ refreshTokenHardExpiresAt: day + 10 * HOUR });
        await connected({ refreshTokenHardExpiresAt: day + 11 * HOUR }); // later than asked
        const gone = await connected({ refreshTokenHardExpiresAt: day + 2 * HOUR });
        await s.connections.markReconnectRequired(gone, 1, 'refresh_token_invalid');
        const uncapped: Partial<Record<keyof NewConnection, unknown>> = { ...connectionOf('0', NOW) };
        delete uncapped.refreshTokenHardExpiresAt;
        delete uncapped.realmId;
        await connected(uncapped as Partial<NewConnection>);

        await expect(s.connections.countNearHardExpiry(day + 10 * HOUR)).resolves.toBe(before + 2);
        await expect(s.connections.countNearHardExpiry(day + 1 * HOUR)).resolves.toBe(
          (await s.connections.countNearHardExpiry(day)) + 1,
        );
      });

      it('lists ACTIVE connections near their cap with it, and marks each once per cap', async () => {
        const day = nextOwnDay();
        const near = await connected({ refreshTokenHardExpiresAt: day + 1 * HOUR });
        await connected({ refreshTokenHardExpiresAt: day + 20 * HOUR }); // later than asked
        const listed = await s.connections.listNearHardExpiry(day + 2 * HOUR, { limit: 1000 });
        expect(listed.items.filter((i) => i.hardExpiresAt >= day)).toEqual([
          { realmId: near, hardExpiresAt: day + 1 * HOUR },
        ]);
        await expect(s.connections.markNearHardExpiryNotified(near, day + 1 * HOUR)).resolves.toBe(true);
        await expect(s.connections.markNearHardExpiryNotified(near, day + 1 * HOUR)).resolves.toBe(false);
        // Another cap (a stale listing) or a connection that stopped being ACTIVE is not marked.
        await expect(s.connections.markNearHardExpiryNotified(near, day + 3 * HOUR)).resolves.toBe(false);
        const after = await s.connections.get(near, { tokens: false });
        expect(after).toMatchObject({ nearHardExpiryNotifiedFor: day + 1 * HOUR, version: 1 });
      });
    });
  });
}

function connectionTokens(tokens: ConnectionTokens): ConnectionTokens {
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: tokens.accessTokenExpiresAt,
    refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
    ...(tokens.refreshTokenHardExpiresAt !== undefined
      ? { refreshTokenHardExpiresAt: tokens.refreshTokenHardExpiresAt }
      : {}),
  };
}
