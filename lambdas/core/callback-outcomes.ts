/**
 * How the callback ends: the redirect to an outcome page (E1), the restart page (B1), and the
 * best-effort record of a failure. Shared by the claim, the exchange and the replay paths.
 */
import type { ClientCredentials, ServiceConfig } from './config';
import { StorageUnavailableError } from './errors';
import type { FailureReason, LedgerEntry, LedgerStatus } from './flow-ledger';
import type { HttpResponse } from './http-responses';
import { pageResponse, redirectResponse } from './http-responses';
import type { OutcomeKind } from './pages';
import type { ConnectorRuntime, FlowDependencies } from './runtime';
import { OUTCOME_PATH, pageContext } from './runtime';
import type { LogField } from './telemetry';
import type { LogCode } from './telemetry-codes';
import { METRICS } from './telemetry-codes';

export interface CallbackContext {
  readonly deps: FlowDependencies;
  readonly runtime: ConnectorRuntime;
  readonly config: ServiceConfig;
  readonly https: boolean;
  /** Epoch ms by which the invocation must answer; also the end of the exchange lease. */
  readonly deadline: number;
  /** Set-Cookie that expires this flow's cookie, when the browser sent one (on outcomes only). */
  readonly expireCookie?: string;
}

/** What the exchange needs about the claimed code. */
export interface ClaimedCode {
  readonly code: string;
  readonly codeHash: string;
  readonly stateHash: string;
  readonly realmId: string;
  readonly credentials: ClientCredentials;
  readonly flowAgeMs: number | undefined;
}

/** The page a finished ledger entry answers with, for the first answer and every replay alike. */
export function outcomeOf(entry: Pick<LedgerEntry, 'status' | 'reason'>): OutcomeKind {
  if (entry.status === 'CONNECTED') return 'connected';
  return entry.reason === 'realm_unverified' ? 'unverified' : 'failed';
}

/**
 * E1: 303 to an outcome page whose URL carries no code and no state: the app's own page when it
 * configured one (A4: a fixed URL, never a request parameter), else the built-in page.
 */
export function outcomeRedirect(
  ctx: CallbackContext,
  kind: OutcomeKind,
  reference?: string,
  realmId?: string,
): HttpResponse {
  const cookies = ctx.expireCookie !== undefined ? [ctx.expireCookie] : undefined;
  const { appSuccessUrl, appFailureUrl } = ctx.config;
  const failure = kind === 'failed' || kind === 'unverified';
  if (kind === 'connected' && appSuccessUrl !== undefined) {
    const target = new URL(appSuccessUrl);
    if (realmId !== undefined) target.searchParams.set('realmId', realmId);
    return redirectResponse(303, target.toString(), ctx.https, cookies);
  }
  if ((failure || kind === 'cancelled') && appFailureUrl !== undefined) {
    const target = new URL(appFailureUrl);
    target.searchParams.set('outcome', failure ? 'failed' : kind);
    if (failure && reference !== undefined) target.searchParams.set('ref', reference);
    return redirectResponse(303, target.toString(), ctx.https, cookies);
  }
  const query = failure && reference !== undefined ? `?ref=${reference}` : '';
  return redirectResponse(303, `${OUTCOME_PATH}/${kind}${query}`, ctx.https, cookies);
}

/** B1: a restart page, zero outbound calls to Intuit. */
export function refuse(
  ctx: CallbackContext,
  code: LogCode,
  message: string,
  fields: Record<string, LogField> = {},
): HttpResponse {
  ctx.deps.telemetry.record({ code, message, fields });
  return pageResponse(400, 'expired', pageContext(ctx.deps, ctx.config), ctx.https);
}

/** The self-refreshing page: its reloads are replays, which converge on the ledger's outcome. */
export function finishingPage(ctx: CallbackContext): HttpResponse {
  return pageResponse(200, 'finishing', pageContext(ctx.deps, ctx.config), ctx.https);
}

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
