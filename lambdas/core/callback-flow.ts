/**
 * GET /callback: the exactly-once exchange (docs/design.md invariants 1, 2, 5, 8; docs/security.md B, C, G).
 *
 * Order of checks, cheapest and least trusting first: method, query shape, configuration, the
 * browser-binding cookie (no I/O), credentials (cached), then one DynamoDB round trip that consumes
 * the state and claims the code together. Only the winner of that claim ever calls Intuit, once.
 * A replay of a finished code needs no cookie: it only reads the ledger and changes nothing.
 */
import { exchange } from './callback-exchange';
import { loggableOauthError, parseCallbackQuery } from './callback-input';
import type { CallbackContext, ClaimedCode } from './callback-outcomes';
import { outcomeResult, refuse } from './callback-outcomes';
import { answerFinished, answerReplay } from './callback-replay';
import type { ClientCredentials } from './config';
import { ConfigError, CredentialsUnavailableError, StorageUnavailableError } from './errors';
import { credentialsUnavailable, notConfigured, storageUnavailable } from './flow-failures';
import { matchFlowCookie } from './flow-cookie';
import { hashPrefix, newReference, sha256Hex } from './flow-identifiers';
import type { ClaimResult } from './flow-ledger';
import { LEDGER_RETENTION_SECONDS } from './flow-ledger';
import type { FlowResult } from './flow-results';
import type { ConnectorRuntime, FlowDependencies } from './runtime';
import { afterExchangeReserveMs, MIN_TOKEN_REQUEST_MS, WRITE_WORST_MS } from './time-budget';

export interface CallbackRequest {
  /** The query string exactly as received (API Gateway's `rawQueryString`). */
  readonly rawQuery: string;
  /** Request cookies as "name=value" strings. */
  readonly cookies: readonly string[];
  /**
   * Epoch ms by which this invocation must have answered (Lambda: now + remaining time, minus a
   * safety margin). @default now + the token timeout + what must follow it + 10 s
   */
  readonly deadline?: number;
}

/** Without an invocation deadline: time beyond the exchange's own budget to record the outcome. */
const LEASE_MARGIN_MS = 5_000;

export async function handleCallback(
  request: CallbackRequest,
  runtime: ConnectorRuntime,
  deps: FlowDependencies,
): Promise<FlowResult> {
  const input = parseCallbackQuery(request.rawQuery);
  if (input.kind === 'invalid') {
    deps.telemetry.record({
      code: 'CALLBACK_INVALID_INPUT',
      fields: { reason: input.reason },
    });
    return { kind: 'invalid-request' };
  }

  const { config } = runtime;
  const baseCtx: CallbackContext = {
    deps,
    runtime,
    config,
    deadline:
      request.deadline ??
      deps.clock() +
        config.tokenRequestTimeoutMs +
        afterExchangeReserveMs(config.companyCheckTimeoutMs) +
        LEASE_MARGIN_MS,
  };

  if (input.state === undefined) return refuse(baseCtx, 'STATE_MISSING', 'Callback without state');
  const stateHash = sha256Hex(input.state);
  const cookie = matchFlowCookie(request.cookies, input.state);

  try {
    if (cookie === undefined) {
      return input.kind === 'code'
        ? await answerWithoutCookie(baseCtx, sha256Hex(input.code), stateHash)
        : refuseForeignBrowser(baseCtx, {});
    }
    const flowAgeMs = Number.isNaN(cookie.issuedAt) ? undefined : deps.clock() - cookie.issuedAt;
    // A cancellation keeps its cookie: only a code's replay can be answered without one, so the
    // cookie (15 minutes) is what lets a replayed cancellation land on "you cancelled" again.
    if (input.kind === 'error') return await cancel(baseCtx, stateHash, input.error, flowAgeMs);
    const ctx: CallbackContext = { ...baseCtx, forgetFlowState: input.state };

    // G5: credentials are checked before the claim, so a misconfiguration spends no state and no code.
    let credentials: ClientCredentials;
    try {
      credentials = await runtime.credentials.get();
    } catch (error) {
      if (error instanceof ConfigError) return notConfigured(deps.telemetry, error);
      if (error instanceof CredentialsUnavailableError) return credentialsUnavailable(deps.telemetry, error);
      throw error;
    }
    return await claimAndExchange(ctx, {
      code: input.code,
      codeHash: sha256Hex(input.code),
      stateHash,
      realmId: input.realmId,
      credentials,
      flowAgeMs,
    });
  } catch (error) {
    if (!(error instanceof StorageUnavailableError)) throw error;
    return storageUnavailable(
      deps.telemetry,
      error,
      'DynamoDB unavailable during the callback; Intuit was not called',
    );
  }
}

/**
 * A2/B1: no cookie for this state. A code already claimed under this very state is a replay (the
 * browser dropped the cookie, or the flow's cookie was expired on its outcome): answer it from the
 * ledger. Anything else is another browser's flow: refuse it without consuming the state.
 */
async function answerWithoutCookie(
  ctx: CallbackContext,
  codeHash: string,
  stateHash: string,
): Promise<FlowResult> {
  const entry = await ctx.runtime.ledger.readEntry(codeHash);
  const base = { codeHashPrefix: hashPrefix(codeHash), cookieless: true };
  if (entry === undefined || entry.stateHash !== stateHash) return refuseForeignBrowser(ctx, base);
  // Whoever holds the URL learns the outcome, nothing more: the app is not told the realmId on
  // the word of a browser that did not start the flow.
  const anonymous: CallbackContext = { ...ctx, anonymous: true };
  // Still in flight: wait for it like any duplicate; a lease that passed becomes UNKNOWN (G3),
  // which any caller may record, since it decides nothing new.
  if (entry.status === 'EXCHANGING') return answerReplay(anonymous, entry, base);
  return answerFinished(anonymous, entry, base);
}

function refuseForeignBrowser(ctx: CallbackContext, fields: Record<string, string | boolean>): FlowResult {
  return refuse(
    ctx,
    'STATE_COOKIE_MISMATCH',
    'Callback state is not bound to this browser (no matching flow cookie)',
    fields,
  );
}

async function claimAndExchange(ctx: CallbackContext, input: ClaimedCode): Promise<FlowResult> {
  const { deps, config } = ctx;
  const now = deps.clock();
  const reference = newReference();
  const afterExchangeMs = afterExchangeReserveMs(config.companyCheckTimeoutMs);
  // C4: claim only if the claim, an exchange and what follows it still fit in this invocation.
  if (ctx.deadline - now < WRITE_WORST_MS + MIN_TOKEN_REQUEST_MS + afterExchangeMs) {
    deps.telemetry.record({
      code: 'TIME_BUDGET_EXHAUSTED',
      fields: { remainingMs: ctx.deadline - now, reference },
    });
    return { kind: 'unavailable', reason: 'try-again', reference };
  }
  const claim: ClaimResult = await ctx.runtime.ledger.claimCode({
    stateHash: input.stateHash,
    codeHash: input.codeHash,
    realmId: input.realmId,
    reference,
    now,
    // The lease lasts as long as this invocation can: no replay declares a live claimant lost.
    leaseUntil: ctx.deadline,
    retainUntil: now + LEDGER_RETENTION_SECONDS * 1000,
  });
  const base = { codeHashPrefix: hashPrefix(input.codeHash), flowAgeMs: input.flowAgeMs };

  switch (claim.kind) {
    case 'replay':
      return answerReplay(ctx, claim.entry, base);
    case 'state-not-found':
      return refuse(ctx, 'STATE_NOT_FOUND', 'Callback state was never issued or has been cleaned up', base);
    case 'state-expired':
      return refuse(ctx, 'STATE_EXPIRED', 'Callback state expired before the callback', base);
    case 'state-used':
      return refuse(
        ctx,
        'STATE_ALREADY_USED',
        'Callback state was already used by another code or a cancellation',
        {
          ...base,
          cancelled: claim.cancelled,
        },
      );
    case 'code-reused':
      return refuse(
        ctx,
        'STATE_ALREADY_USED',
        'Code already claimed under another state; not sent to Intuit again',
        {
          ...base,
          codeReused: true,
        },
      );
    case 'claimed': {
      // What is left after the claim, minus what must follow the exchange; at least the minimum,
      // which the check above guarantees fits.
      const left = ctx.deadline - deps.clock() - afterExchangeMs;
      const exchangeTimeoutMs = Math.max(MIN_TOKEN_REQUEST_MS, Math.min(config.tokenRequestTimeoutMs, left));
      return exchange(ctx, input, reference, exchangeTimeoutMs);
    }
  }
}

/** B4: the user declined (or Intuit reported an error): consume the state, show "you cancelled". */
async function cancel(
  ctx: CallbackContext,
  stateHash: string,
  error: string,
  flowAgeMs: number | undefined,
): Promise<FlowResult> {
  const result = await ctx.runtime.ledger.cancelFlow(stateHash, ctx.deps.clock());
  const base = { stateHashPrefix: hashPrefix(stateHash), flowAgeMs, oauthError: loggableOauthError(error) };
  switch (result) {
    case 'cancelled':
      ctx.deps.telemetry.record({
        code: 'CALLBACK_CANCELLED',
        fields: base,
      });
      return outcomeResult(ctx, 'cancelled');
    case 'already-cancelled':
      ctx.deps.telemetry.record({
        code: 'CALLBACK_REPLAYED',
        message: 'Replayed cancellation answered from the ledger',
        fields: { ...base, status: 'CANCELLED' },
      });
      return outcomeResult(ctx, 'cancelled');
    case 'state-not-found':
      return refuse(ctx, 'STATE_NOT_FOUND', 'Error callback with a state that was never issued', base);
    case 'state-expired':
      return refuse(ctx, 'STATE_EXPIRED', 'Error callback with an expired state', base);
    case 'state-used':
      return refuse(ctx, 'STATE_ALREADY_USED', 'Error callback for a state already used by a code', base);
  }
}
