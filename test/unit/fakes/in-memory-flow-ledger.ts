/**
 * An in-memory FlowLedger with the semantics of the DynamoDB adapter: a state is PENDING, CONSUMED
 * or CANCELLED and carries its own expiresAt (checked on every decision, as TTL would only clean
 * up); the claim consumes the state and creates the code entry atomically or not at all; a code
 * entry moves EXCHANGING -> CONNECTED | FAILED | UNKNOWN; recordFailure only touches an EXCHANGING
 * entry; recordConnection accepts only EXCHANGING and otherwise fails with LeaseLostError, as the
 * adapter does when its code condition cancels the transaction.
 *
 * `gate` lets a test (or fast-check's scheduler) delay every operation before and after it takes
 * effect, which models network latency around an atomic DynamoDB write.
 */
import type { NewConnection } from '../../../lambdas/core/connection-store';
import { LeaseLostError, StorageUnavailableError } from '../../../lambdas/core/errors';
import { InMemoryConnectionStore } from './in-memory-connection-store';
import type {
  ConnectionWrite,
  CreateFlowResult,
  LedgerStatus,
  CancelResult,
  ClaimResult,
  CodeClaim,
  FailureReason,
  FlowLedger,
  LedgerEntry,
  NewFlow,
} from '../../../lambdas/core/flow-ledger';

export type StateStatus = 'PENDING' | 'CONSUMED' | 'CANCELLED';

export interface StoredState {
  status: StateStatus;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly tenantId?: string;
  codeHash?: string;
}

export type LedgerOperation = keyof FlowLedger;

type Failure = { remaining: number; error: () => Error };

export class InMemoryFlowLedger implements FlowLedger {
  readonly states = new Map<string, StoredState>();
  readonly entries = new Map<string, LedgerEntry>();
  /** Consumed connect-link nonces (their hashes). */
  readonly nonces = new Set<string>();
  /** The connections table, shared with the ledger's transaction as in DynamoDB. */
  readonly connectionStore = new InMemoryConnectionStore();
  readonly connections = this.connectionStore.connections;
  readonly calls: { operation: LedgerOperation; args: unknown[] }[] = [];
  /** Awaited before and after each operation takes effect. */
  gate: () => Promise<void> = async () => undefined;
  private readonly failures = new Map<LedgerOperation, Failure>();

  /** The next `times` calls of `operation` throw `error()` without taking effect. */
  failNext(operation: LedgerOperation, times: number, error: () => Error): void {
    this.failures.set(operation, { remaining: times, error });
  }

  /** Makes `operation` throw a StorageUnavailableError on every call. */
  failAlways(operation: LedgerOperation): void {
    this.failNext(operation, Number.POSITIVE_INFINITY, () => throttled(operation));
  }

  callsOf(operation: LedgerOperation): unknown[][] {
    return this.calls.filter((c) => c.operation === operation).map((c) => c.args);
  }

  async createFlow(flow: NewFlow): Promise<CreateFlowResult> {
    await this.enter('createFlow', [flow]);
    if (this.states.has(flow.stateHash)) throw new Error('ConditionalCheckFailed: flow exists');
    if (flow.nonce !== undefined) {
      if (this.nonces.has(flow.nonce.hash)) {
        await this.gate();
        return 'nonce-used';
      }
      this.nonces.add(flow.nonce.hash);
    }
    this.states.set(flow.stateHash, {
      status: 'PENDING',
      createdAt: flow.createdAt,
      expiresAt: flow.expiresAt,
      ...(flow.tenantId !== undefined ? { tenantId: flow.tenantId } : {}),
    });
    await this.gate();
    return 'created';
  }

  async claimCode(claim: CodeClaim): Promise<ClaimResult> {
    await this.enter('claimCode', [claim]);
    const result = this.claimNow(claim);
    await this.gate();
    return result;
  }

  private claimNow(claim: CodeClaim): ClaimResult {
    const state = this.states.get(claim.stateHash);
    const existing = this.entries.get(claim.codeHash);
    const stateOk = state !== undefined && state.status === 'PENDING' && state.expiresAt > claim.now;
    if (stateOk && existing === undefined) {
      state.status = 'CONSUMED';
      state.codeHash = claim.codeHash;
      this.entries.set(claim.codeHash, {
        codeHash: claim.codeHash,
        stateHash: claim.stateHash,
        status: 'EXCHANGING',
        leaseUntil: claim.leaseUntil,
        reference: claim.reference,
        realmId: claim.realmId,
      });
      return { kind: 'claimed' };
    }
    if (existing !== undefined) {
      return existing.stateHash === claim.stateHash
        ? { kind: 'replay', entry: { ...existing } }
        : { kind: 'code-reused' };
    }
    if (state === undefined) return { kind: 'state-not-found' };
    if (state.status === 'CANCELLED') return { kind: 'state-used', cancelled: true };
    if (state.status === 'CONSUMED') return { kind: 'state-used', cancelled: false };
    return { kind: 'state-expired' };
  }

  async cancelFlow(stateHash: string, now: number): Promise<CancelResult> {
    await this.enter('cancelFlow', [stateHash, now]);
    const result = this.cancelNow(stateHash, now);
    await this.gate();
    return result;
  }

  private cancelNow(stateHash: string, now: number): CancelResult {
    const state = this.states.get(stateHash);
    if (state === undefined) return 'state-not-found';
    if (state.status === 'PENDING' && state.expiresAt > now) {
      state.status = 'CANCELLED';
      return 'cancelled';
    }
    if (state.status === 'CANCELLED') return 'already-cancelled';
    if (state.status === 'CONSUMED') return 'state-used';
    return 'state-expired';
  }

  async readFlowTenant(stateHash: string): Promise<string | undefined> {
    await this.enter('readFlowTenant', [stateHash]);
    const tenantId = this.states.get(stateHash)?.tenantId;
    await this.gate();
    return tenantId;
  }

  async readEntry(codeHash: string): Promise<LedgerEntry | undefined> {
    await this.enter('readEntry', [codeHash]);
    const entry = this.entries.get(codeHash);
    await this.gate();
    return entry === undefined ? undefined : { ...entry };
  }

  async recordFailure(
    codeHash: string,
    status: 'FAILED' | 'UNKNOWN',
    reason: FailureReason,
  ): Promise<LedgerStatus> {
    await this.enter('recordFailure', [codeHash, status, reason]);
    const entry = this.entries.get(codeHash);
    if (entry !== undefined && entry.status === 'EXCHANGING')
      this.entries.set(codeHash, { ...entry, status, reason });
    const after = this.entries.get(codeHash)?.status ?? status;
    await this.gate();
    return after;
  }

  async recordConnection(codeHash: string, connection: NewConnection): Promise<ConnectionWrite> {
    await this.enter('recordConnection', [codeHash, connection]);
    const entry = this.entries.get(codeHash);
    if (entry?.status === 'CONNECTED') return 'stored';
    if (entry === undefined || entry.status !== 'EXCHANGING') throw new LeaseLostError();
    const written = this.connectionStore.putVerified(connection);
    if (written === 'bound-to-other-tenant') {
      await this.gate();
      return written;
    }
    const superseded = written === 'superseded';
    const connected: LedgerEntry = { ...entry, status: 'CONNECTED' };
    delete (connected as { reason?: FailureReason }).reason;
    this.entries.set(codeHash, connected);
    await this.gate();
    return superseded ? 'superseded' : 'stored';
  }

  private async enter(operation: LedgerOperation, args: unknown[]): Promise<void> {
    this.calls.push({ operation, args });
    await this.gate();
    const failure = this.failures.get(operation);
    if (failure !== undefined && failure.remaining > 0) {
      failure.remaining -= 1;
      throw failure.error();
    }
  }
}

export function throttled(operation: string): StorageUnavailableError {
  return new StorageUnavailableError(operation, 'ProvisionedThroughputExceededException');
}
