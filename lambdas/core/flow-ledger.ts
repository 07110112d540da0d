/**
 * The port to the flow table: started flows (one per /connect) and the code ledger (one entry per
 * authorization code presented to /callback). The DynamoDB adapter implements it with conditional
 * writes; see docs/design.md "The callback as a state machine".
 */

import type { NewConnection } from './connection-store';

/**
 * How long consumed states and code entries are kept (TTL cleans up after): replays land on their
 * first outcome for that long, and a code that resurfaces from browser history with a fresh flow
 * is recognised and never sent to Intuit again. The items are small.
 */
export const LEDGER_RETENTION_SECONDS = 30 * 24 * 60 * 60;

/** EXCHANGING -> CONNECTED | FAILED | UNKNOWN (lease passed with no outcome). */
export type LedgerStatus = 'EXCHANGING' | 'CONNECTED' | 'FAILED' | 'UNKNOWN';

/** Why a code ended FAILED or UNKNOWN; shown to nobody, logged and counted. */
export type FailureReason =
  | 'invalid_grant'
  | 'invalid_client'
  | 'oauth_error'
  | 'ambiguous'
  | 'unreachable'
  | 'malformed_response'
  | 'token_store_failed'
  | 'lease_expired'
  /** B6: the new access token does not open the company the callback URL named. */
  | 'realm_mismatch'
  /** B6: the company could not be verified (Intuit unavailable, or a configuration mismatch). */
  | 'realm_unverified'
  /** B7: the company is bound to another app tenant; nothing was stored. */
  | 'realm_bound_to_other_tenant';

export interface LedgerEntry {
  readonly codeHash: string;
  readonly stateHash: string;
  readonly status: LedgerStatus;
  /** Epoch ms until which the claimant owns the exchange; after it an EXCHANGING entry is UNKNOWN. */
  readonly leaseUntil: number;
  readonly reference: string;
  readonly realmId: string;
  readonly reason?: FailureReason;
}

export interface NewFlow {
  readonly stateHash: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** I2: the app tenant a signed connect link named, kept with the flow, server side only. */
  readonly tenantId?: string;
  /**
   * I1: the signed link's nonce (its hash), consumed in the same write as the flow is created, so
   * a link starts one flow at most. Kept until `nonceExpiresAt` (the link's own expiry) at least.
   */
  readonly nonce?: { readonly hash: string; readonly expiresAt: number };
}

/** A flow was stored, or the link's nonce was consumed already (nothing stored). */
export type CreateFlowResult = 'created' | 'nonce-used';

export interface CodeClaim {
  readonly stateHash: string;
  readonly codeHash: string;
  readonly realmId: string;
  readonly reference: string;
  readonly now: number;
  readonly leaseUntil: number;
  /** Epoch ms after which the ledger entry is only kept for replays; TTL cleans it up later. */
  readonly retainUntil: number;
}

/** The result of the single claim round trip (C1): the winner, or why not, with the old entry. */
export type ClaimResult =
  | { readonly kind: 'claimed' }
  /** This code is already in the ledger for this state: a replay or a concurrent duplicate. */
  | { readonly kind: 'replay'; readonly entry: LedgerEntry }
  /** This code is in the ledger under another state: never exchange it again. */
  | { readonly kind: 'code-reused' }
  | { readonly kind: 'state-not-found' }
  | { readonly kind: 'state-expired' }
  /** The state was consumed by another code or by a cancellation. */
  | { readonly kind: 'state-used'; readonly cancelled: boolean };

export type CancelResult =
  'cancelled' | 'already-cancelled' | 'state-not-found' | 'state-expired' | 'state-used';

/**
 * - stored: the connection and the code's CONNECTED outcome were written together;
 * - superseded: a newer grant was stored already (D5); it is kept and the code is CONNECTED;
 * - bound-to-other-tenant: the company belongs to another app tenant (B7); nothing was written
 *   and the code is still EXCHANGING, for the caller to record as FAILED.
 */
export type ConnectionWrite = 'stored' | 'superseded' | 'bound-to-other-tenant';

export interface FlowLedger {
  /** Stores a new flow keyed by its state's hash, consuming its link's nonce in the same write. */
  createFlow(flow: NewFlow): Promise<CreateFlowResult>;
  /** Consumes the state and claims the code in one atomic step (docs/design.md). */
  claimCode(claim: CodeClaim): Promise<ClaimResult>;
  /** B4: consumes the state of a callback that carries `error` (the user cancelled). */
  cancelFlow(stateHash: string, now: number): Promise<CancelResult>;
  /**
   * I2: the app tenant the flow was started for (strongly consistent; undefined for a flow started
   * without a signed link). It never changes after /connect, so the callback reads it while the
   * code is being exchanged, off the critical path.
   */
  readFlowTenant(stateHash: string): Promise<string | undefined>;
  /** Strongly consistent read of a code's ledger entry. */
  readEntry(codeHash: string): Promise<LedgerEntry | undefined>;
  /**
   * Records a terminal failure for a code still EXCHANGING (claimed by the caller, or whose lease
   * passed). Resolves the status the entry has afterwards: the one recorded, or the outcome another
   * writer recorded first (a claimant finishing just as its lease passed).
   */
  recordFailure(codeHash: string, status: 'FAILED' | 'UNKNOWN', reason: FailureReason): Promise<LedgerStatus>;
  /**
   * Stores the verified connection (ConnectionStore's item) and marks the code CONNECTED in one
   * write (one round trip). Resolves 'superseded' when a connection from a newer grant was already
   * stored (D5, compared on grantedAt): it is kept and
   * the code is still marked CONNECTED. Resolves 'bound-to-other-tenant' when the company is bound
   * to a tenant other than `connection.tenantId` (or to any tenant, for a flow without one: B7). Rejects with LeaseLostError when the code is no longer
   * EXCHANGING, and with StorageUnavailableError when DynamoDB fails (the write may still have
   * landed: recordFailure tells).
   */
  recordConnection(codeHash: string, connection: NewConnection): Promise<ConnectionWrite>;
}
