/**
 * How the callback ends: the redirect to an outcome page (E1), the restart page (B1), and the
 * best-effort record of a failure. Shared by the claim, the exchange and the replay paths.
 */
import type { ClientCredentials, ServiceConfig } from './config';
import { StorageUnavailableError } from './errors';
import type { FailureReason, LedgerEntry, LedgerStatus } from './flow-ledger';
import type { CallbackOutcome, FlowResult } from './flow-results';
import type { ConnectorRuntime, FlowDependencies } from './runtime';
import type { LogField } from './telemetry';
import type { LogCode } from './telemetry-codes';

export interface CallbackContext {
  readonly deps: FlowDependencies;
  readonly runtime: ConnectorRuntime;
  readonly config: ServiceConfig;
  /** Epoch ms by which the invocation must answer; also the end of the exchange lease. */
  readonly deadline: number;
  /** The state whose cookie the browser sent: its outcomes expire that cookie. */
  readonly forgetFlowState?: string;
  /** A browser without the flow's cookie: its outcomes carry no realmId to the app. */
  readonly anonymous?: boolean;
}

/** What the exchange needs about the claimed code. */
export interface ClaimedCode {
  readonly code: string;
  readonly codeHash: string;
  readonly stateHash: string;
  readonly realmId: string;
  readonly credentials: ClientCredentials;
  readonly flowAgeMs: number | undefined;
  /** The app tenant the flow was started for (I2), once read from the flow's record. */
  readonly tenantId?: string;
}

/** The outcome a finished ledger entry answers with, for the first answer and every replay alike. */
export function outcomeOf(entry: Pick<LedgerEntry, 'status' | 'reason'>): CallbackOutcome {
  if (entry.status === 'CONNECTED') return 'connected';
  if (entry.reason === 'realm_bound_to_other_tenant') return 'other-account';
  return entry.reason === 'realm_unverified' ? 'unverified' : 'failed';
}

/** E1: a finished callback; the edge sends the browser to its outcome page. */
export function outcomeResult(
  ctx: CallbackContext,
  outcome: CallbackOutcome,
  reference?: string,
  realmId?: string,
  tenantId?: string,
): FlowResult {
  return {
    kind: 'outcome',
    outcome,
    ...(reference !== undefined ? { reference } : {}),
    ...(realmId !== undefined && ctx.anonymous !== true ? { realmId } : {}),
    ...(tenantId !== undefined && ctx.anonymous !== true ? { tenantId } : {}),
    ...(ctx.forgetFlowState !== undefined ? { forgetFlowState: ctx.forgetFlowState } : {}),
  };
}

/** B1: the restart page, zero outbound calls to Intuit. */
export function refuse(
  ctx: CallbackContext,
  code: LogCode,
  message: string,
  fields: Record<string, LogField> = {},
): FlowResult {
  ctx.deps.telemetry.record({ code, message, fields });
  return { kind: 'refused' };
}

/** The self-refreshing page: its reloads are replays, which converge on the ledger's outcome. */
export const IN_FLIGHT: FlowResult = { kind: 'in-flight' };

/**
 * Records a terminal failure. Resolves the status the entry has afterwards (the one written, or
 * the outcome another writer recorded first), or undefined when DynamoDB did not answer: then
 * nobody knows, and the caller must not claim an outcome the ledger may contradict.
 */
export async function recordFailureBestEffort(
  ctx: CallbackContext,
  codeHash: string,
  status: 'FAILED' | 'UNKNOWN',
  reason: FailureReason,
  fields: Record<string, LogField>,
): Promise<LedgerStatus | undefined> {
  try {
    return await ctx.runtime.ledger.recordFailure(codeHash, status, reason);
  } catch (error) {
    if (!(error instanceof StorageUnavailableError)) throw error;
    // The lease still expires into UNKNOWN (G3), so replays converge on an outcome regardless.
    ctx.deps.telemetry.record({
      code: 'STORAGE_UNAVAILABLE',
      message: 'Could not record the exchange outcome; the lease will expire into UNKNOWN',
      fields: { ...fields, operation: error.operation, awsError: error.awsErrorName },
    });
    return undefined;
  }
}
