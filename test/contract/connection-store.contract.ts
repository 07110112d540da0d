/**
 * The ConnectionStore port's contract (D3-D6), run against the in-memory fake and the DynamoDB
 * adapter on DynamoDB Local. Connections are created the way production creates them: through the
 * ledger's verified-connection transaction.
 */
import type { ConnectionTokens } from '../../lambdas/core/connection-store';
import type { LedgerSubject } from './flow-ledger.contract';
import { connectionOf } from './flow-ledger.contract';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
let counter = 0;

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

    /** A verified connection, stored as the callback stores it. */
    async function connected(): Promise<string> {
      counter += 1;
      const realmId = `46208163${String(counter).padStart(8, '0')}`;
      const stateHash = `s${realmId}`.padEnd(64, '0');
      const codeHash = `k${realmId}`.padEnd(64, '0');
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
      await s.ledger.recordConnection(codeHash, connectionOf(realmId, NOW));
      return realmId;
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
        expect(after).toMatchObject({ status: 'DISCONNECTED', version: 2, companyName: 'Company a' });
        expect(after?.tokens).toBeUndefined();
        await expect(s.connections.markDisconnected(realmId, NOW)).resolves.toEqual({ kind: 'disconnected' });
        await expect(s.connections.markDisconnected('3333333333', NOW)).resolves.toEqual({
          kind: 'not-found',
        });
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
