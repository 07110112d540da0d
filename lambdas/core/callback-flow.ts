/**
 * GET /callback: the exactly-once exchange (DESIGN.md invariants 1, 2, 5; SECURITY.md B, C, G).
 *
 * Order of checks, cheapest and least trusting first: method, query shape, configuration, the
 * browser-binding cookie (no I/O), credentials (cached), then one DynamoDB round trip that consumes
 * the state and claims the code together. Only the winner of that claim ever calls Intuit, once.
 */
import type { ClientCredentials, ServiceConfig } from './config';
import { ConfigError, LeaseLostError, StorageUnavailableError } from './errors';
import { loggableOauthError, parseCallbackQuery } from './callback-input';
import { matchFlowCookie } from './flow-cookie';
import { hashPrefix, newReference, sha256Hex } from './flow-identifiers';
import type { ClaimResult, FailureReason, LedgerEntry, LedgerStatus } from './flow-ledger';
import type { HttpResponse } from './http-responses';
import { pageResponse, redirectResponse } from './http-responses';
import { notConfigured, storageUnavailable } from './failure-pages';
import type { OutcomeKind, PageKind } from './pages';
import type { ConnectorRuntime, FlowDependencies } from './runtime';
import { isHttps, OUTCOME_PATH, pageContext, tryRuntime } from './runtime';
import type { LogField } from './telemetry';
import type { LogCode, MetricName } from './telemetry-codes';
import { METRICS } from './telemetry-codes';
import type { TokenFailureKind, TokenSet } from './token-endpoint';
import { TokenEndpointError } from './token-endpoint';
import { AFTER_EXCHANGE_RESERVE_MS, REVOKE_RESERVE_MS, WRITE_WORST_MS } from './time-budget';

export interface CallbackRequest {
  readonly method: string;
  /** The query string exactly as received (API Gateway's `rawQueryString`). */
  readonly rawQuery: string;
  /** Request cookies as "name=value" strings. */
  readonly cookies: readonly string[];
  /**
   * Epoch ms by which this invocation must have answered (Lambda: now + remaining time, minus a
   * safety margin). @default now + the token timeout + 10 s
   */
  readonly deadline?: number;
}

/** Without an invocation deadline: time after the exchange's own timeout to record the outcome. */
const LEASE_MARGIN_MS = 10_000;

/** The shortest exchange worth attempting; with less time left, nothing is claimed. */
const MIN_EXCHANGE_MS = 1_000;
/** Replays are answered from the ledger for a day; after that the state is gone and they get "expired". */
const LEDGER_RETENTION_MS = 24 * 60 * 60 * 1000;
const IN_FLIGHT_POLL_MS = 200;
const STORE_ATTEMPTS = 3;

interface Context {
  readonly deps: FlowDependencies;
  readonly runtime: ConnectorRuntime;
  readonly config: ServiceConfig;
  readonly https: boolean;
  /** Epoch ms by which the invocation must answer; also the end of the exchange lease. */
  readonly deadline: number;
}

export async function handleCallback(
  request: CallbackRequest,
  deps: FlowDependencies,
): Promise<HttpResponse> {
  if (request.method !== 'GET') return pageResponse(405, 'method-not-allowed', pageContext(deps), true);

  const input = parseCallbackQuery(request.rawQuery);
  if (input.kind === 'invalid') {
    deps.telemetry.record({
      code: 'CALLBACK_INVALID_INPUT',
      level: 'warn',
      message: 'Callback refused before any lookup: malformed query',
      metrics: [METRICS.CallbackRejected],
      fields: { reason: input.reason },
    });
    return pageResponse(400, 'invalid-request', pageContext(deps), true);
  }

  const resolved = tryRuntime(deps);
  if (!resolved.ok) return notConfigured(deps, resolved.error);
  const { runtime } = resolved;
  const ctx: Context = {
    deps,
    runtime,
    config: runtime.config,
    https: isHttps(runtime.config),
    deadline: request.deadline ?? deps.clock() + runtime.config.tokenRequestTimeoutMs + LEASE_MARGIN_MS,
  };

  if (input.state === undefined) return refuse(ctx, 'STATE_MISSING', 'Callback without state');
  const cookie = matchFlowCookie(request.cookies, input.state);
  if (cookie === undefined) {
    return refuse(
      ctx,
      'STATE_COOKIE_MISMATCH',
      'Callback state is not bound to this browser (no matching flow cookie)',
    );
  }
  const stateHash = sha256Hex(input.state);
  const flowAgeMs = Number.isNaN(cookie.issuedAt) ? undefined : deps.clock() - cookie.issuedAt;

  try {
    if (input.kind === 'error') return await cancel(ctx, stateHash, input.error, flowAgeMs);

    // G5: credentials are checked before the claim, so a misconfiguration spends no state and no code.
    let credentials: ClientCredentials;
    try {
      credentials = await runtime.credentials.get();
    } catch (error) {
      if (error instanceof ConfigError) return notConfigured(deps, error, ctx.config);
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
      deps,
      error,
      'DynamoDB unavailable during the callback; Intuit was not called',
      ctx.config,
    );
  }
}

interface ClaimInput {
  readonly code: string;
  readonly codeHash: string;
  readonly stateHash: string;
  readonly realmId: string;
  readonly credentials: ClientCredentials;
  readonly flowAgeMs: number | undefined;
}

async function claimAndExchange(ctx: Context, input: ClaimInput): Promise<HttpResponse> {
  const { deps, config } = ctx;
  const now = deps.clock();
  const reference = newReference();
  // C4: claim only if the claim, an exchange and what follows it still fit in this invocation.
  if (ctx.deadline - now < WRITE_WORST_MS + MIN_EXCHANGE_MS + AFTER_EXCHANGE_RESERVE_MS) {
    deps.telemetry.record({
      code: 'TIME_BUDGET_EXHAUSTED',
      level: 'error',
      message: 'Too little invocation time left to exchange safely; nothing claimed, Intuit not called',
      metrics: [METRICS.UnexpectedError],
      fields: { remainingMs: ctx.deadline - now, reference },
    });
    return pageResponse(503, 'try-again', pageContext(deps, config, reference), ctx.https);
  }
  // The lease lasts as long as this invocation can: no replay declares a live claimant lost.
  const leaseUntil = ctx.deadline;
  const claim: ClaimResult = await ctx.runtime.ledger.claimCode({
    stateHash: input.stateHash,
    codeHash: input.codeHash,
    realmId: input.realmId,
    reference,
    now,
    leaseUntil,
    retainUntil: now + LEDGER_RETENTION_MS,
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
      const left = ctx.deadline - deps.clock() - AFTER_EXCHANGE_RESERVE_MS;
      const exchangeTimeoutMs = Math.max(MIN_EXCHANGE_MS, Math.min(config.tokenRequestTimeoutMs, left));
      return exchange(ctx, input, reference, exchangeTimeoutMs);
    }
  }
}

/** C2: a replay or concurrent duplicate is answered from the ledger and never re-sent. */
async function answerReplay(
  ctx: Context,
  first: LedgerEntry,
  base: Record<string, LogField>,
): Promise<HttpResponse> {
  const { deps } = ctx;
  const waitUntil = deps.clock() + (deps.inFlightWaitMs ?? 3000);
  let entry: LedgerEntry | undefined = first;
  while (entry !== undefined && entry.status === 'EXCHANGING') {
    const now = deps.clock();
    if (entry.leaseUntil <= now) {
      // G3: the claimant crashed or timed out without an outcome; the code is spent either way.
      deps.telemetry.record({
        code: 'EXCHANGE_LEASE_EXPIRED',
        level: 'error',
        message: 'Exchange lease passed without an outcome; marked UNKNOWN, user asked to reconnect',
        metrics: [METRICS.TokenExchangeFailed],
        fields: { ...base, reference: entry.reference },
      });
      const status = await recordFailureBestEffort(ctx, entry.codeHash, 'UNKNOWN', 'lease_expired', base);
      // The claimant may have stored its tokens a moment before: its outcome stands (invariant 5).
      return outcomeRedirect(
        ctx,
        status === 'CONNECTED' ? 'connected' : 'failed',
        entry.reference,
        entry.realmId,
      );
    }
    if (now >= waitUntil) {
      deps.telemetry.record({
        code: 'CODE_IN_FLIGHT',
        level: 'info',
        message: 'Duplicate callback while the exchange is in flight; finishing page served',
        fields: base,
      });
      return pageResponse(200, 'finishing', pageContext(deps, ctx.config), ctx.https);
    }
    await deps.sleep(IN_FLIGHT_POLL_MS);
    entry = await ctx.runtime.ledger.readEntry(first.codeHash);
  }
  const final = entry ?? first;
  const kind: OutcomeKind = final.status === 'CONNECTED' ? 'connected' : 'failed';
  deps.telemetry.record({
    code: 'CALLBACK_REPLAYED',
    level: 'info',
    message: 'Replayed callback answered from the ledger; Intuit not called',
    metrics: [METRICS.CallbackReplayed],
    fields: { ...base, status: final.status, reason: final.reason, reference: final.reference },
  });
  return outcomeRedirect(ctx, kind, final.reference, final.realmId);
}

const FAILURES: Record<
  TokenFailureKind,
  {
    code: LogCode;
    status: 'FAILED' | 'UNKNOWN';
    reason: FailureReason;
    metrics: MetricName[];
    message: string;
  }
> = {
  invalid_grant: {
    code: 'TOKEN_EXCHANGE_INVALID_GRANT',
    status: 'FAILED',
    reason: 'invalid_grant',
    metrics: [METRICS.TokenExchangeFailed, METRICS.InvalidGrant],
    message:
      'Intuit answered invalid_grant: code expired, already used, or issued for another redirect URI, client or environment',
  },
  invalid_client: {
    code: 'TOKEN_EXCHANGE_INVALID_CLIENT',
    status: 'FAILED',
    reason: 'invalid_client',
    metrics: [METRICS.TokenExchangeFailed, METRICS.InvalidClient],
    message: 'Intuit answered invalid_client: wrong client id or secret, or keys from the other environment',
  },
  oauth_error: {
    code: 'TOKEN_EXCHANGE_REJECTED',
    status: 'FAILED',
    reason: 'oauth_error',
    metrics: [METRICS.TokenExchangeFailed],
    message: 'Intuit refused the exchange with an OAuth error',
  },
  ambiguous: {
    code: 'TOKEN_EXCHANGE_AMBIGUOUS',
    status: 'UNKNOWN',
    reason: 'ambiguous',
    metrics: [METRICS.TokenExchangeFailed, METRICS.TokenExchangeAmbiguous],
    message:
      'Token request may have reached Intuit (timeout, 5xx, 429 or reset); code treated as spent, not retried',
  },
  unreachable: {
    code: 'TOKEN_EXCHANGE_UNREACHABLE',
    status: 'FAILED',
    reason: 'unreachable',
    metrics: [METRICS.TokenExchangeFailed],
    message: 'Token endpoint unreachable (request never left)',
  },
  malformed: {
    code: 'TOKEN_RESPONSE_MALFORMED',
    status: 'FAILED',
    reason: 'malformed_response',
    metrics: [METRICS.TokenExchangeFailed],
    message: 'Intuit answered success with a body that is not a valid token response; nothing stored',
  },
};

async function exchange(
  ctx: Context,
  input: ClaimInput,
  reference: string,
  exchangeTimeoutMs: number,
): Promise<HttpResponse> {
  const { deps, config, runtime } = ctx;
  const startedAt = deps.clock();
  const diagnostics: Record<string, LogField> = {
    codeHashPrefix: hashPrefix(input.codeHash),
    flowAgeMs: input.flowAgeMs,
    qboEnvironment: config.qboEnvironment,
    redirectUri: config.redirectUri,
    clientIdPrefix: input.credentials.clientId.slice(0, 6),
    realmId: input.realmId,
    reference,
  };

  let tokens: TokenSet;
  let intuitTid: string | undefined;
  try {
    ({ tokens, intuitTid } = await runtime.tokenEndpoint.exchangeCode(
      input.code,
      input.credentials,
      exchangeTimeoutMs,
    ));
  } catch (error) {
    // Anything unexpected may have happened after the request left: treat it as ambiguous (C3).
    const failure =
      error instanceof TokenEndpointError ? error : new TokenEndpointError('ambiguous', {}, error);
    const spec = FAILURES[failure.kind];
    deps.telemetry.record({
      code: spec.code,
      level: 'error',
      message: spec.message,
      metrics: spec.metrics,
      fields: {
        ...diagnostics,
        exchangeMs: deps.clock() - startedAt,
        intuitTid: failure.details.intuitTid,
        oauthError: failure.details.oauthError,
        httpStatus: failure.details.status,
        transportCode: failure.details.transportCode,
      },
    });
    await recordFailureBestEffort(ctx, input.codeHash, spec.status, spec.reason, diagnostics);
    return outcomeRedirect(ctx, 'failed', reference);
  }
  const exchangeMs = deps.clock() - startedAt;
  deps.telemetry.timing(METRICS.TokenExchangeLatency, exchangeMs);

  const receivedAt = deps.clock();
  const connection = {
    realmId: input.realmId,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: receivedAt + tokens.expiresInSeconds * 1000,
    refreshTokenExpiresAt: receivedAt + tokens.refreshTokenExpiresInSeconds * 1000,
    ...(tokens.refreshTokenHardExpiresInSeconds !== undefined
      ? { refreshTokenHardExpiresAt: receivedAt + tokens.refreshTokenHardExpiresInSeconds * 1000 }
      : {}),
    connectedAt: receivedAt,
    qboEnvironment: config.qboEnvironment,
  };

  // C8: retry the write while a whole attempt still fits; the tokens exist only in this process
  // until it lands.
  let lastError: StorageUnavailableError | LeaseLostError | undefined;
  for (
    let attempt = 1;
    attempt <= STORE_ATTEMPTS &&
    (attempt === 1 || deps.clock() + WRITE_WORST_MS < ctx.deadline - WRITE_WORST_MS - REVOKE_RESERVE_MS);
    attempt++
  ) {
    try {
      const written = await runtime.ledger.recordConnection(input.codeHash, connection);
      return connected(
        ctx,
        diagnostics,
        { exchangeMs, intuitTid, storeAttempts: attempt, superseded: written === 'superseded' },
        input.realmId,
        reference,
      );
    } catch (error) {
      if (error instanceof LeaseLostError) {
        lastError = error;
        break;
      }
      if (!(error instanceof StorageUnavailableError)) throw error;
      lastError = error;
      if (attempt < STORE_ATTEMPTS) await deps.sleep(100 * 3 ** (attempt - 1));
    }
  }

  // The tokens cannot be kept. Record the failure first: it blocks a write still in flight (the
  // code must be EXCHANGING to connect) and tells whether an attempt landed after all, in which case
  // the tokens are stored and must not be revoked (invariant 5).
  const status = await recordFailureBestEffort(
    ctx,
    input.codeHash,
    'FAILED',
    'token_store_failed',
    diagnostics,
  );
  if (status === 'CONNECTED') {
    return connected(ctx, diagnostics, { exchangeMs, intuitTid, lateCommit: true }, input.realmId, reference);
  }
  // Revoke rather than leave a live grant nobody holds.
  const revoked = await runtime.tokenEndpoint.revoke(
    tokens.refreshToken,
    input.credentials,
    Math.max(500, Math.min(config.tokenRequestTimeoutMs, ctx.deadline - deps.clock() - 500)),
  );
  deps.telemetry.record({
    code: 'TOKEN_STORE_FAILED',
    level: 'error',
    message:
      'Tokens could not be stored after a successful exchange; refresh token revoked, user asked to reconnect',
    metrics: [METRICS.TokenStoreFailed],
    fields: {
      ...diagnostics,
      exchangeMs,
      intuitTid,
      revoked,
      leaseLost: lastError instanceof LeaseLostError,
      awsError: lastError instanceof StorageUnavailableError ? lastError.awsErrorName : undefined,
    },
  });
  return outcomeRedirect(ctx, 'failed', reference);
}

function connected(
  ctx: Context,
  diagnostics: Record<string, LogField>,
  fields: Record<string, LogField>,
  realmId: string,
  reference: string,
): HttpResponse {
  ctx.deps.telemetry.record({
    code: 'CALLBACK_CONNECTED',
    level: 'info',
    message:
      fields['superseded'] === true
        ? 'Code exchanged once; a newer connection for this company was already stored and is kept'
        : 'Code exchanged once and tokens stored',
    metrics: [METRICS.CallbackConnected],
    fields: { ...diagnostics, ...fields },
  });
  return outcomeRedirect(ctx, 'connected', reference, realmId);
}

/** B4: the user declined (or Intuit reported an error): consume the state, show "you cancelled". */
async function cancel(
  ctx: Context,
  stateHash: string,
  error: string,
  flowAgeMs: number | undefined,
): Promise<HttpResponse> {
  const result = await ctx.runtime.ledger.cancelFlow(stateHash, ctx.deps.clock());
  const base = { stateHashPrefix: hashPrefix(stateHash), flowAgeMs, oauthError: loggableOauthError(error) };
  switch (result) {
    case 'cancelled':
    case 'already-cancelled':
      ctx.deps.telemetry.record({
        code: 'CALLBACK_CANCELLED',
        level: 'info',
        message: result === 'cancelled' ? 'User cancelled at Intuit' : 'Replayed cancellation',
        metrics: [METRICS.CallbackCancelled],
        fields: base,
      });
      return outcomeRedirect(ctx, 'cancelled');
    case 'state-not-found':
      return refuse(ctx, 'STATE_NOT_FOUND', 'Error callback with a state that was never issued', base);
    case 'state-expired':
      return refuse(ctx, 'STATE_EXPIRED', 'Error callback with an expired state', base);
    case 'state-used':
      return refuse(ctx, 'STATE_ALREADY_USED', 'Error callback for a state already used by a code', base);
  }
}

/** B1: a restart page, zero outbound calls. */
function refuse(
  ctx: Context,
  code: LogCode,
  message: string,
  fields: Record<string, LogField> = {},
): HttpResponse {
  ctx.deps.telemetry.record({ code, level: 'warn', message, metrics: [METRICS.CallbackRejected], fields });
  const kind: PageKind = 'expired';
  return pageResponse(400, kind, pageContext(ctx.deps, ctx.config), ctx.https);
}

/**
 * E1: 303 to an outcome page whose URL carries no code and no state: the app's own page when it
 * configured one (A4: a fixed URL, never a request parameter), else the built-in page.
 */
function outcomeRedirect(
  ctx: Context,
  kind: OutcomeKind,
  reference?: string,
  realmId?: string,
): HttpResponse {
  const { appSuccessUrl, appFailureUrl } = ctx.config;
  if (kind === 'connected' && appSuccessUrl !== undefined) {
    const target = new URL(appSuccessUrl);
    if (realmId !== undefined) target.searchParams.set('realmId', realmId);
    return redirectResponse(303, target.toString(), ctx.https);
  }
  if ((kind === 'failed' || kind === 'cancelled') && appFailureUrl !== undefined) {
    const target = new URL(appFailureUrl);
    target.searchParams.set('outcome', kind);
    if (kind === 'failed' && reference !== undefined) target.searchParams.set('ref', reference);
    return redirectResponse(303, target.toString(), ctx.https);
  }
  const query = kind === 'failed' && reference !== undefined ? `?ref=${reference}` : '';
  return redirectResponse(303, `${OUTCOME_PATH}/${kind}${query}`, ctx.https);
}

async function recordFailureBestEffort(
  ctx: Context,
  codeHash: string,
  status: 'FAILED' | 'UNKNOWN',
  reason: FailureReason,
  fields: Record<string, LogField>,
): Promise<LedgerStatus> {
  try {
    return await ctx.runtime.ledger.recordFailure(codeHash, status, reason);
  } catch (error) {
    if (!(error instanceof StorageUnavailableError)) throw error;
    // The lease still expires into UNKNOWN (G3), so replays converge on a failure page regardless.
    ctx.deps.telemetry.record({
      code: 'STORAGE_UNAVAILABLE',
      level: 'error',
      message: 'Could not record the exchange outcome; the lease will expire into UNKNOWN',
      metrics: [METRICS.StorageUnavailable],
      fields: { ...fields, operation: error.operation, awsError: error.awsErrorName },
    });
    return status;
  }
}
