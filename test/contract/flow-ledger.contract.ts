/**
 * The FlowLedger port's contract, run against the in-memory fake (unit) and the DynamoDB adapter on
 * DynamoDB Local (integration), so the fake the flow tests use cannot drift from what DynamoDB
 * does. Only behaviour through the ports is asserted, never the shape of a request.
 */
import type { ConnectionStore, NewConnection } from '../../lambdas/core/connection-store';
import { LeaseLostError } from '../../lambdas/core/errors';
import type { CodeClaim, FlowLedger } from '../../lambdas/core/flow-ledger';

export interface LedgerSubject {
  readonly ledger: FlowLedger;
  /** The same connections table, read through its own port. */
  readonly connections: ConnectionStore;
}

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
let counter = 0;
/** Unique hashes per test, so a shared table never mixes tests. */
function hash(label: string): string {
  counter += 1;
  return `${label}${String(counter).padStart(8, '0')}`.padEnd(64, '0');
}
function realm(): string {
  counter += 1;
  return `91303577${String(counter).padStart(8, '0')}`;
}

function claimOf(stateHash: string, codeHash: string, realmId = realm()): CodeClaim {
  return {
    stateHash,
    codeHash,
    realmId,
    reference: 'K7PQ2M9X',
    now: NOW,
    leaseUntil: NOW + 20_000,
    retainUntil: NOW + 30 * 86_400_000,
  };
}

export function connectionOf(realmId: string, grantedAt: number, label = 'a'): NewConnection {
  return {
    realmId,
    grantedAt,
    accessToken: `access-${label}`,
    refreshToken: `refresh-${label}`,
    accessTokenExpiresAt: grantedAt + 3_600_000,
    refreshTokenExpiresAt: grantedAt + 8_726_400_000,
    refreshTokenHardExpiresAt: grantedAt + 157_680_000_000,
    qboEnvironment: 'sandbox',
    companyName: `Company ${label}`,
  };
}

export function flowLedgerContract(name: string, subject: () => Promise<LedgerSubject>): void {
  describe(`FlowLedger contract: ${name}`, () => {
    let ledger: FlowLedger;
    let connections: ConnectionStore;
    beforeEach(async () => {
      ({ ledger, connections } = await subject());
    });

    async function pendingState(expiresAt = NOW + 900_000): Promise<string> {
      const stateHash = hash('a');
      await ledger.createFlow({ stateHash, createdAt: NOW - 1000, expiresAt });
      return stateHash;
    }

    async function claimed(
      realmId = realm(),
      tenantId?: string,
    ): Promise<{ stateHash: string; codeHash: string; realmId: string }> {
      const stateHash = hash('a');
      await expect(
        ledger.createFlow({
          stateHash,
          createdAt: NOW - 1000,
          expiresAt: NOW + 900_000,
          ...(tenantId !== undefined ? { tenantId } : {}),
        }),
      ).resolves.toBe('created');
      const codeHash = hash('c');
      await expect(ledger.claimCode(claimOf(stateHash, codeHash, realmId))).resolves.toEqual({
        kind: 'claimed',
      });
      return { stateHash, codeHash, realmId };
    }

    describe('createFlow with a signed link (I1, I2)', () => {
      it('I2: keeps the tenant with the flow, server side; a flow without a link has none', async () => {
        const signed = hash('a');
        await ledger.createFlow({
          stateHash: signed,
          createdAt: NOW,
          expiresAt: NOW + 900_000,
          tenantId: 'tenant-a',
          nonce: { hash: hash('n'), expiresAt: NOW + 300_000 },
        });
        await expect(ledger.readFlowTenant(signed)).resolves.toBe('tenant-a');
        const plain = await pendingState();
        await expect(ledger.readFlowTenant(plain)).resolves.toBeUndefined();
      });

      it('I1: a nonce starts one flow: the second is refused and stores nothing', async () => {
        const nonce = { hash: hash('n'), expiresAt: NOW + 300_000 };
        const first = hash('a');
        const second = hash('a');
        const flow = { createdAt: NOW, expiresAt: NOW + 900_000, tenantId: 'tenant-a', nonce };
        await expect(ledger.createFlow({ ...flow, stateHash: first })).resolves.toBe('created');
        await expect(ledger.createFlow({ ...flow, stateHash: second })).resolves.toBe('nonce-used');
        await expect(ledger.claimCode(claimOf(second, hash('c')))).resolves.toEqual({
          kind: 'state-not-found',
        });
        await expect(ledger.claimCode(claimOf(first, hash('c')))).resolves.toEqual({ kind: 'claimed' });
      });
    });

    describe('claimCode', () => {
      it('C1: claims a new code under a pending state, once; the entry is EXCHANGING with its lease', async () => {
        const { stateHash, codeHash, realmId } = await claimed();
        await expect(ledger.readEntry(codeHash)).resolves.toEqual({
          codeHash,
          stateHash,
          status: 'EXCHANGING',
          leaseUntil: NOW + 20_000,
          reference: 'K7PQ2M9X',
          realmId,
        });
      });

      it('C2: answers the same code under the same state as a replay, with the entry', async () => {
        const { stateHash, codeHash } = await claimed();
        const replay = await ledger.claimCode(claimOf(stateHash, codeHash));
        expect(replay).toMatchObject({ kind: 'replay', entry: { codeHash, status: 'EXCHANGING' } });
      });

      it('B1: refuses the same code under another state as code-reused', async () => {
        const { codeHash } = await claimed();
        const other = await pendingState();
        await expect(ledger.claimCode(claimOf(other, codeHash))).resolves.toEqual({ kind: 'code-reused' });
      });

      it('B1: refuses another code for a consumed state as state-used', async () => {
        const { stateHash } = await claimed();
        await expect(ledger.claimCode(claimOf(stateHash, hash('c')))).resolves.toEqual({
          kind: 'state-used',
          cancelled: false,
        });
      });

      it('B1: refuses a state that was never issued', async () => {
        await expect(ledger.claimCode(claimOf(hash('a'), hash('c')))).resolves.toEqual({
          kind: 'state-not-found',
        });
      });

      it('B1: refuses a state whose expiry passed, whatever TTL has done (invariant 3)', async () => {
        const stateHash = await pendingState(NOW - 1);
        const codeHash = hash('c');
        await expect(ledger.claimCode(claimOf(stateHash, codeHash))).resolves.toEqual({
          kind: 'state-expired',
        });
        await expect(ledger.readEntry(codeHash)).resolves.toBeUndefined();
      });

      it('B4: refuses a cancelled state as state-used (cancelled)', async () => {
        const stateHash = await pendingState();
        await ledger.cancelFlow(stateHash, NOW);
        await expect(ledger.claimCode(claimOf(stateHash, hash('c')))).resolves.toEqual({
          kind: 'state-used',
          cancelled: true,
        });
      });
    });

    describe('cancelFlow', () => {
      it('B4: cancels a pending state once; a replay is already-cancelled', async () => {
        const stateHash = await pendingState();
        await expect(ledger.cancelFlow(stateHash, NOW)).resolves.toBe('cancelled');
        await expect(ledger.cancelFlow(stateHash, NOW)).resolves.toBe('already-cancelled');
      });

      it('B4: refuses unknown, expired and consumed states', async () => {
        await expect(ledger.cancelFlow(hash('a'), NOW)).resolves.toBe('state-not-found');
        await expect(ledger.cancelFlow(await pendingState(NOW - 1), NOW)).resolves.toBe('state-expired');
        const { stateHash } = await claimed();
        await expect(ledger.cancelFlow(stateHash, NOW)).resolves.toBe('state-used');
      });
    });

    describe('recordFailure', () => {
      it('records a failure of an exchange in flight, with its reason', async () => {
        const { codeHash } = await claimed();
        await expect(ledger.recordFailure(codeHash, 'FAILED', 'realm_mismatch')).resolves.toBe('FAILED');
        await expect(ledger.readEntry(codeHash)).resolves.toMatchObject({
          status: 'FAILED',
          reason: 'realm_mismatch',
        });
      });

      it('leaves an outcome already recorded alone and reports it', async () => {
        const { codeHash, realmId } = await claimed();
        await ledger.recordConnection(codeHash, connectionOf(realmId, NOW));
        await expect(ledger.recordFailure(codeHash, 'UNKNOWN', 'lease_expired')).resolves.toBe('CONNECTED');
        await expect(ledger.readEntry(codeHash)).resolves.toMatchObject({ status: 'CONNECTED' });
      });
    });

    describe('recordConnection', () => {
      it('D3: stores the connection ACTIVE at version 1 and marks the code CONNECTED in one write', async () => {
        const { codeHash, realmId } = await claimed();
        await expect(ledger.recordConnection(codeHash, connectionOf(realmId, NOW))).resolves.toBe('stored');
        await expect(ledger.readEntry(codeHash)).resolves.toMatchObject({ status: 'CONNECTED' });
        await expect(connections.get(realmId)).resolves.toEqual({
          realmId,
          status: 'ACTIVE',
          version: 1,
          grantedAt: NOW,
          connectedAt: NOW,
          qboEnvironment: 'sandbox',
          companyName: 'Company a',
          tokens: {
            accessToken: 'access-a',
            refreshToken: 'refresh-a',
            accessTokenExpiresAt: NOW + 3_600_000,
            refreshTokenExpiresAt: NOW + 8_726_400_000,
            refreshTokenHardExpiresAt: NOW + 157_680_000_000,
          },
          tokenExpiry: {
            accessTokenExpiresAt: NOW + 3_600_000,
            refreshTokenExpiresAt: NOW + 8_726_400_000,
            refreshTokenHardExpiresAt: NOW + 157_680_000_000,
          },
        });
      });

      it('is idempotent: the same write retried after a commit (answer lost) counts as stored, once', async () => {
        const { codeHash, realmId } = await claimed();
        // A retry repeats the very same write (one sealed ciphertext), as the callback's retry does.
        const connection = connectionOf(realmId, NOW);
        await ledger.recordConnection(codeHash, connection);
        await expect(ledger.recordConnection(codeHash, connection)).resolves.toBe('stored');
        await expect(connections.get(realmId)).resolves.toMatchObject({ version: 1 });
      });

      it('D5: a newer grant replaces the tokens, counts a version and keeps the first connectedAt', async () => {
        const first = await claimed();
        await ledger.recordConnection(first.codeHash, connectionOf(first.realmId, NOW));
        const second = await claimed(first.realmId);
        const withoutHardCap: NewConnection = { ...connectionOf(first.realmId, NOW + 60_000, 'b') };
        delete (withoutHardCap as { refreshTokenHardExpiresAt?: number }).refreshTokenHardExpiresAt;
        await expect(ledger.recordConnection(second.codeHash, withoutHardCap)).resolves.toBe('stored');
        const stored = await connections.get(first.realmId);
        expect(stored).toMatchObject({
          version: 2,
          grantedAt: NOW + 60_000,
          connectedAt: NOW,
          companyName: 'Company b',
        });
        // The older grant's hard cap does not outlive it.
        expect(stored?.tokens).toEqual({
          accessToken: 'access-b',
          refreshToken: 'refresh-b',
          accessTokenExpiresAt: NOW + 60_000 + 3_600_000,
          refreshTokenExpiresAt: NOW + 60_000 + 8_726_400_000,
        });
      });

      it('D5: an older grant never overwrites a newer one: superseded, the code still CONNECTED', async () => {
        const newer = await claimed();
        await ledger.recordConnection(newer.codeHash, connectionOf(newer.realmId, NOW + 60_000, 'new'));
        const older = await claimed(newer.realmId);
        await expect(
          ledger.recordConnection(older.codeHash, connectionOf(newer.realmId, NOW, 'old')),
        ).resolves.toBe('superseded');
        await expect(ledger.readEntry(older.codeHash)).resolves.toMatchObject({ status: 'CONNECTED' });
        await expect(connections.get(newer.realmId)).resolves.toMatchObject({
          version: 1,
          tokens: { accessToken: 'access-new' },
        });
      });

      it('B7: a tenant binds a company nobody holds', async () => {
        const { codeHash, realmId } = await claimed(realm(), 'tenant-a');
        await expect(
          ledger.recordConnection(codeHash, { ...connectionOf(realmId, NOW), tenantId: 'tenant-a' }),
        ).resolves.toBe('stored');
        await expect(connections.get(realmId)).resolves.toMatchObject({
          status: 'ACTIVE',
          tenantId: 'tenant-a',
        });
      });

      it.each([
        ['another tenant', 'tenant-b'],
        ['a flow without a tenant', undefined],
      ])(
        'B7: %s cannot take a bound company: nothing written, the code still EXCHANGING',
        async (_label, tenantId) => {
          const first = await claimed(realm(), 'tenant-a');
          await ledger.recordConnection(first.codeHash, {
            ...connectionOf(first.realmId, NOW, 'a'),
            tenantId: 'tenant-a',
          });
          const before = await connections.get(first.realmId);
          const second = await claimed(first.realmId, tenantId);
          await expect(
            ledger.recordConnection(second.codeHash, {
              ...connectionOf(first.realmId, NOW + 60_000, 'b'),
              ...(tenantId !== undefined ? { tenantId } : {}),
            }),
          ).resolves.toBe('bound-to-other-tenant');
          await expect(ledger.readEntry(second.codeHash)).resolves.toMatchObject({ status: 'EXCHANGING' });
          await expect(connections.get(first.realmId)).resolves.toEqual(before);
        },
      );

      it('B7: an older grant from another tenant is refused as bound, not superseded', async () => {
        const first = await claimed(realm(), 'tenant-a');
        await ledger.recordConnection(first.codeHash, {
          ...connectionOf(first.realmId, NOW + 60_000, 'a'),
          tenantId: 'tenant-a',
        });
        const second = await claimed(first.realmId, 'tenant-b');
        await expect(
          ledger.recordConnection(second.codeHash, {
            ...connectionOf(first.realmId, NOW, 'b'),
            tenantId: 'tenant-b',
          }),
        ).resolves.toBe('bound-to-other-tenant');
      });

      it('B7/D5: the same tenant reconnecting replaces its tokens', async () => {
        const first = await claimed(realm(), 'tenant-a');
        await ledger.recordConnection(first.codeHash, {
          ...connectionOf(first.realmId, NOW, 'a'),
          tenantId: 'tenant-a',
        });
        const second = await claimed(first.realmId, 'tenant-a');
        await expect(
          ledger.recordConnection(second.codeHash, {
            ...connectionOf(first.realmId, NOW + 60_000, 'b'),
            tenantId: 'tenant-a',
          }),
        ).resolves.toBe('stored');
        await expect(connections.get(first.realmId)).resolves.toMatchObject({
          version: 2,
          tenantId: 'tenant-a',
          tokens: { accessToken: 'access-b' },
        });
      });

      it('B7: after a disconnect another tenant may connect the company', async () => {
        const first = await claimed(realm(), 'tenant-a');
        await ledger.recordConnection(first.codeHash, {
          ...connectionOf(first.realmId, NOW, 'a'),
          tenantId: 'tenant-a',
        });
        await connections.markDisconnected(first.realmId, NOW + 1000);
        const second = await claimed(first.realmId, 'tenant-b');
        await expect(
          ledger.recordConnection(second.codeHash, {
            ...connectionOf(first.realmId, NOW + 60_000, 'b'),
            tenantId: 'tenant-b',
          }),
        ).resolves.toBe('stored');
        await expect(connections.get(first.realmId)).resolves.toMatchObject({
          status: 'ACTIVE',
          tenantId: 'tenant-b',
        });
      });

      it('C8: refuses a code that is no longer EXCHANGING (a replay recorded UNKNOWN) with LeaseLostError', async () => {
        const { codeHash, realmId } = await claimed();
        await ledger.recordFailure(codeHash, 'UNKNOWN', 'lease_expired');
        await expect(ledger.recordConnection(codeHash, connectionOf(realmId, NOW))).rejects.toBeInstanceOf(
          LeaseLostError,
        );
        await expect(connections.get(realmId)).resolves.toBeUndefined();
      });
    });
  });
}
