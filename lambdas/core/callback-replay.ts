/**
 * Replays and concurrent duplicates of a callback (C2): answered from the ledger, never re-sent to
 * Intuit. A duplicate that arrives mid-exchange waits briefly for the outcome; a lease that passed
 * without one becomes UNKNOWN (G3).
 */
import type { CallbackContext } from './callback-outcomes';
import { IN_FLIGHT, outcomeOf, outcomeResult, recordFailureBestEffort } from './callback-outcomes';
import { StorageUnavailableError } from './errors';
import type { LedgerEntry } from './flow-ledger';
import type { FlowResult } from './flow-results';
import type { LogField } from './telemetry';

/** How often a duplicate re-reads an in-flight entry while it waits. */
const IN_FLIGHT_POLL_MS = 200;
/** @default of FlowDependencies.inFlightWaitMs */
const DEFAULT_IN_FLIGHT_WAIT_MS = 3000;

export async function answerReplay(
  ctx: CallbackContext,
  first: LedgerEntry,
  base: Record<string, LogField>,
): Promise<FlowResult> {
  const { deps } = ctx;
  const waitUntil = deps.clock() + (deps.inFlightWaitMs ?? DEFAULT_IN_FLIGHT_WAIT_MS);
  let entry: LedgerEntry | undefined = first;
  while (entry !== undefined && entry.status === 'EXCHANGING') {
    const now = deps.clock();
    if (entry.leaseUntil <= now) return expireLease(ctx, entry, base);
    if (now >= waitUntil) {
      deps.telemetry.record({
        code: 'CODE_IN_FLIGHT',
        fields: base,
      });
      return IN_FLIGHT;
    }
    await deps.sleep(IN_FLIGHT_POLL_MS);
    entry = await ctx.runtime.ledger.readEntry(first.codeHash);
  }
  return answerFinished(ctx, entry ?? first, base);
}

/** A finished entry's outcome, the same for every replay (invariant 5). Writes nothing. */
export function answerFinished(
  ctx: CallbackContext,
  entry: LedgerEntry,
  base: Record<string, LogField>,
): FlowResult {
  ctx.deps.telemetry.record({
    code: 'CALLBACK_REPLAYED',
    fields: { ...base, status: entry.status, reason: entry.reason, reference: entry.reference },
  });
  return outcomeResult(ctx, outcomeOf(entry), entry.reference, entry.realmId);
}

/** G3: the claimant crashed or timed out without an outcome; the code is spent either way. */
async function expireLease(
  ctx: CallbackContext,
  entry: LedgerEntry,
  base: Record<string, LogField>,
): Promise<FlowResult> {
  ctx.deps.telemetry.record({
    code: 'EXCHANGE_LEASE_EXPIRED',
    fields: { ...base, reference: entry.reference },
  });
  const status = await recordFailureBestEffort(ctx, entry.codeHash, 'UNKNOWN', 'lease_expired', base);
  // Not written: the ledger may yet say otherwise, so answer nothing it could contradict.
  if (status === undefined) return IN_FLIGHT;
  // The claimant recorded its outcome a moment before: it stands (invariant 5). Only a failure
  // needs its reason, which decides between the failed and the try-again page.
  const final = status === 'FAILED' ? await readQuietly(ctx, entry.codeHash) : undefined;
  return outcomeResult(
    ctx,
    outcomeOf(final ?? { status, reason: 'lease_expired' }),
    entry.reference,
    entry.realmId,
  );
}

async function readQuietly(ctx: CallbackContext, codeHash: string): Promise<LedgerEntry | undefined> {
  try {
    return await ctx.runtime.ledger.readEntry(codeHash);
  } catch (error) {
    if (error instanceof StorageUnavailableError) return undefined;
    throw error;
  }
}
