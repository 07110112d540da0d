/**
 * The winner of the claim exchanges the code once (C3), proves the company with the new token
 * (B6), and stores the tokens with the code's outcome in one write (C8). The callback never
 * revokes: reports say a revoke at Intuit can invalidate every token the app holds for that
 * company or user, including a stored connection that works; tokens that are not stored live only
 * in this process and expire unused.
 */
import type { CallbackContext, ClaimedCode } from './callback-outcomes';
import { IN_FLIGHT, outcomeOf, outcomeResult, recordFailureBestEffort } from './callback-outcomes';
import type { CompanyCheck } from './company-info';
import { LeaseLostError, StorageUnavailableError } from './errors';
import { hashPrefix } from './flow-identifiers';
import type { NewConnection } from './connection-store';
import type { FailureReason } from './flow-ledger';
import type { FlowResult } from './flow-results';
import type { LogField } from './telemetry';
import type { LogCode } from './telemetry-codes';
import { METRICS } from './telemetry-codes';
import type { TokenFailureKind, TokenSet } from './token-endpoint';
import { TokenEndpointError } from './token-endpoint';
import { STORE_WRITES_RESERVED, WRITE_WORST_MS } from './time-budget';
import { writeWithRetry } from './write-retry';

const STORE_ATTEMPTS = 3;

type TenantRead =
  | { readonly ok: true; readonly tenantId: string | undefined }
  | { readonly ok: false; readonly error: unknown };
/** What must still fit after the company check: the token store's writes and a failure record. */
const STORE_RESERVE_MS = STORE_WRITES_RESERVED * WRITE_WORST_MS;
/** The shortest company check worth making; the reserve before the exchange guarantees it fits. */
const MIN_COMPANY_CHECK_MS = 500;

/** How each token-endpoint failure is logged and recorded in the ledger (C7). */
const FAILURES: Record<
  TokenFailureKind,
  { readonly code: LogCode; readonly status: 'FAILED' | 'UNKNOWN'; readonly reason: FailureReason }
> = {
  invalid_grant: { code: 'TOKEN_EXCHANGE_INVALID_GRANT', status: 'FAILED', reason: 'invalid_grant' },
  invalid_client: { code: 'TOKEN_EXCHANGE_INVALID_CLIENT', status: 'FAILED', reason: 'invalid_client' },
  oauth_error: { code: 'TOKEN_EXCHANGE_REJECTED', status: 'FAILED', reason: 'oauth_error' },
  // C3: the code is treated as spent.
  ambiguous: { code: 'TOKEN_EXCHANGE_AMBIGUOUS', status: 'UNKNOWN', reason: 'ambiguous' },
  unreachable: { code: 'TOKEN_EXCHANGE_UNREACHABLE', status: 'FAILED', reason: 'unreachable' },
  malformed: { code: 'TOKEN_RESPONSE_MALFORMED', status: 'FAILED', reason: 'malformed_response' },
};

export async function exchange(
  ctx: CallbackContext,
  input: ClaimedCode,
  reference: string,
  exchangeTimeoutMs: number,
): Promise<FlowResult> {
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

  // I2: the flow's tenant is read while Intuit answers, so it adds no round trip in sequence.
  const tenantRead: Promise<TenantRead> = runtime.ledger.readFlowTenant(input.stateHash).then(
    (tenantId) => ({ ok: true, tenantId }),
    (error: unknown) => ({ ok: false, error }),
  );
  const withTenant = async (): Promise<ClaimedCode> => {
    const read = await tenantRead;
    return read.ok && read.tenantId !== undefined ? { ...input, tenantId: read.tenantId } : input;
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
      fields: {
        ...diagnostics,
        exchangeMs: deps.clock() - startedAt,
        intuitTid: failure.details.intuitTid,
        oauthError: failure.details.oauthError,
        httpStatus: failure.details.status,
        transportCode: failure.details.transportCode,
      },
    });
    // Keys rotated in Intuit's portal must work at once, not after the secret's cache expires.
    if (failure.kind === 'invalid_client') runtime.credentials.invalidate();
    return failureOutcome(ctx, await withTenant(), spec.status, spec.reason, reference, diagnostics);
  }
  // The grant's time is when Intuit answered, not after the check: D5 orders grants by it.
  const receivedAt = deps.clock();
  const exchangeMs = receivedAt - startedAt;
  deps.telemetry.timing(METRICS.TokenExchangeLatency, exchangeMs);
  const exchanged = { ...diagnostics, exchangeMs, intuitTid };

  // B6: nothing is stored until the new token has opened the company the URL names.
  const checkTimeoutMs = Math.max(
    MIN_COMPANY_CHECK_MS,
    Math.min(config.companyCheckTimeoutMs, ctx.deadline - deps.clock() - STORE_RESERVE_MS),
  );
  // H3: the tokens are sealed while CompanyInfo answers, within the check's budget, so encryption
  // (a KMS call for a company's first data key) adds nothing to the callback's time budget.
  const sealing = sealWithin(
    runtime.tokenEncrypter.encrypt(input.realmId, {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
    }),
    checkTimeoutMs,
  );
  const check = await runtime.companyInfo.checkCompany(input.realmId, tokens.accessToken, checkTimeoutMs);
  if (check.kind !== 'verified') return companyNotVerified(ctx, await withTenant(), check, exchanged);
  const tenant = await tenantRead;
  if (!tenant.ok) {
    // Without the tenant the connection could be stored unbound: store nothing, never revoke (C8).
    const error = tenant.error;
    if (!(error instanceof StorageUnavailableError)) throw error;
    deps.telemetry.record({
      code: 'STORAGE_UNAVAILABLE',
      message: "The flow's tenant could not be read; nothing stored, the user may try again",
      fields: { ...exchanged, operation: error.operation, awsError: error.awsErrorName },
    });
    return failureOutcome(ctx, input, 'FAILED', 'token_store_failed', reference, exchanged);
  }
  if (tenant.tenantId !== undefined) input = { ...input, tenantId: tenant.tenantId };
  const sealed = await sealing;
  if (sealed === undefined) {
    // Nothing can be stored unsealed: the tokens are dropped, never revoked (C8).
    deps.telemetry.record({
      code: 'KEY_SERVICE_UNAVAILABLE',
      message: 'The new tokens could not be sealed in time; nothing stored, the user may try again',
      fields: { ...exchanged, operation: 'encrypt' },
    });
    return failureOutcome(ctx, input, 'FAILED', 'token_store_failed', reference, exchanged);
  }

  const connection: NewConnection = {
    realmId: input.realmId,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: receivedAt + tokens.expiresInSeconds * 1000,
    refreshTokenExpiresAt: receivedAt + tokens.refreshTokenExpiresInSeconds * 1000,
    ...(tokens.refreshTokenHardExpiresInSeconds !== undefined
      ? { refreshTokenHardExpiresAt: receivedAt + tokens.refreshTokenHardExpiresInSeconds * 1000 }
      : {}),
    grantedAt: receivedAt,
    qboEnvironment: config.qboEnvironment,
    companyName: check.companyName,
    sealedTokens: sealed,
    ...(input.tenantId !== undefined ? { tenantId: input.tenantId } : {}),
  };
  return store(ctx, input, connection, { ...exchanged, companyCheckTid: check.intuitTid });
}

/** B6: the company is not proven. Nothing is stored; an existing connection is untouched. */
async function companyNotVerified(
  ctx: CallbackContext,
  input: ClaimedCode,
  check: Exclude<CompanyCheck, { kind: 'verified' }>,
  exchanged: Record<string, LogField>,
): Promise<FlowResult> {
  const { telemetry } = ctx.deps;
  const fields = {
    ...exchanged,
    httpStatus: check.status,
    faultCode: check.faultCode,
    companyCheckTid: check.intuitTid,
    transportCode: check.transportCode,
  };
  const reference = String(exchanged['reference']);
  if (check.kind === 'mismatch') {
    telemetry.record({
      code: 'REALM_MISMATCH',
      fields,
    });
    return failureOutcome(ctx, input, 'FAILED', 'realm_mismatch', reference, exchanged);
  }
  if (check.kind === 'misconfigured') {
    telemetry.record({
      code: 'COMPANY_CHECK_MISCONFIGURED',
      message:
        `CompanyInfo refused the new token (401 or wrong cluster): QBO_API_BASE_URL ${ctx.config.qboApiBaseUrl} ` +
        `must be Intuit's ${ctx.config.qboEnvironment} API host, matching the keys' environment; nothing stored`,
      fields: { ...fields, qboApiBaseUrl: ctx.config.qboApiBaseUrl },
    });
  } else {
    telemetry.record({
      code: 'COMPANY_CHECK_UNAVAILABLE',
      fields,
    });
  }
  return failureOutcome(ctx, input, 'FAILED', 'realm_unverified', reference, exchanged);
}

/**
 * Records a failure and answers what the ledger now says, so the first answer and every replay
 * agree: the failure written, or the outcome another writer recorded first. When DynamoDB did not
 * answer, nothing was stored either way, and the lease will expire into UNKNOWN (G3): "failed".
 */
async function failureOutcome(
  ctx: CallbackContext,
  input: ClaimedCode,
  status: 'FAILED' | 'UNKNOWN',
  reason: FailureReason,
  reference: string,
  fields: Record<string, LogField>,
): Promise<FlowResult> {
  const recorded = await recordFailureBestEffort(ctx, input.codeHash, status, reason, fields);
  if (recorded === undefined) return outcomeResult(ctx, 'failed', reference, undefined, input.tenantId);
  if (recorded === 'CONNECTED')
    return outcomeResult(ctx, 'connected', reference, input.realmId, input.tenantId);
  // Ours, or an UNKNOWN a replay recorded when the lease passed: its reason is not ours then.
  return outcomeResult(
    ctx,
    outcomeOf({ status: recorded, reason: recorded === status ? reason : 'lease_expired' }),
    reference,
    undefined,
    input.tenantId,
  );
}

/**
 * C8: retry the write while a whole attempt still fits, keeping time to record a failure; then
 * decide from what the ledger says, never from what this process hoped.
 */
async function store(
  ctx: CallbackContext,
  input: ClaimedCode,
  connection: NewConnection,
  fields: Record<string, LogField>,
): Promise<FlowResult> {
  const { deps, runtime } = ctx;
  const result = await writeWithRetry(
    () => runtime.ledger.recordConnection(input.codeHash, connection),
    (error): error is LeaseLostError => error instanceof LeaseLostError,
    {
      clock: deps.clock,
      sleep: deps.sleep,
      deadline: ctx.deadline,
      reserveMs: WRITE_WORST_MS,
      attempts: STORE_ATTEMPTS,
    },
  );
  if (result.kind === 'written' && result.value === 'bound-to-other-tenant') {
    // B7: the company belongs to another tenant. Nothing was written; the tokens just obtained
    // are dropped unused (never revoked: that could end the other tenant's connection).
    ctx.deps.telemetry.record({
      code: 'REALM_BOUND_TO_OTHER_TENANT',
      fields: { ...fields, tenantId: input.tenantId },
    });
    return failureOutcome(
      ctx,
      input,
      'FAILED',
      'realm_bound_to_other_tenant',
      String(fields['reference']),
      fields,
    );
  }
  if (result.kind === 'written') {
    return connected(ctx, input, {
      ...fields,
      storeAttempts: result.attempts,
      superseded: result.value === 'superseded',
    });
  }
  const lastError = result.error;
  const reference = String(fields['reference']);
  const failure = {
    ...fields,
    leaseLost: lastError instanceof LeaseLostError,
    awsError: lastError instanceof StorageUnavailableError ? lastError.awsErrorName : undefined,
  };
  // A lost lease: a replay already recorded this code as UNKNOWN, so the ledger says "failed".
  if (lastError instanceof LeaseLostError) return storeFailed(ctx, failure, reference);

  // Recording the failure blocks a write still in flight (the code must be EXCHANGING to connect)
  // and tells whether an attempt landed after all.
  const status = await recordFailureBestEffort(ctx, input.codeHash, 'FAILED', 'token_store_failed', fields);
  if (status === 'CONNECTED') return connected(ctx, input, { ...fields, lateCommit: true });
  if (status !== undefined) return storeFailed(ctx, failure, reference);
  // Neither write answered: the tokens may be stored or not. Say nothing the ledger could
  // contradict; the finishing page's reloads read the ledger and converge on its outcome.
  deps.telemetry.record({
    code: 'TOKEN_STORE_UNCERTAIN',
    fields: failure,
  });
  return IN_FLIGHT;
}

function storeFailed(ctx: CallbackContext, fields: Record<string, LogField>, reference: string): FlowResult {
  ctx.deps.telemetry.record({
    code: 'TOKEN_STORE_FAILED',
    fields,
  });
  return outcomeResult(ctx, 'failed', reference);
}

function connected(ctx: CallbackContext, input: ClaimedCode, fields: Record<string, LogField>): FlowResult {
  ctx.deps.telemetry.record({
    code: 'CALLBACK_CONNECTED',
    message:
      fields['superseded'] === true
        ? 'Code exchanged once; a newer connection for this company was already stored and is kept'
        : 'Code exchanged once, company verified, tokens stored',
    fields,
  });
  return outcomeResult(
    ctx,
    'connected',
    String(fields['reference']),
    String(fields['realmId']),
    input.tenantId,
  );
}

/**
 * The sealed tokens, or undefined when the key service failed or did not answer within `withinMs`
 * (the check's own budget). Never rejects: an abandoned seal must not become an unhandled rejection.
 */
function sealWithin(sealing: Promise<Uint8Array>, withinMs: number): Promise<Uint8Array | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), withinMs);
    timer.unref?.();
  });
  return Promise.race([sealing.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}
