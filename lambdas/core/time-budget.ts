/**
 * The callback's time budget (docs/security.md C4), shared with the DynamoDB client that it bounds and
 * with the CDK configuration that sizes the callback function, so the three cannot disagree.
 *
 * The callback must answer inside API Gateway's 29 s integration limit, whatever DynamoDB and
 * Intuit do: one claim, one token request, one CompanyInfo request, the token write (two calls
 * when a newer grant is already stored) and, if it does not land, one write that records the
 * failure, plus time to answer.
 */

/** The callback function's timeout; API Gateway's integration waits one second more, 29 s at most. */
export const CALLBACK_TIMEOUT_SECONDS = 28;

/** Attempts per DynamoDB call (the SDK's maxAttempts): one retry, then a "try again" page (G1). */
export const DYNAMODB_MAX_ATTEMPTS = 2;
/**
 * Bound on one DynamoDB attempt (the SDK's requestTimeout, whose timer starts with the request, so
 * it includes connecting). DynamoDB answers in milliseconds; 1.5 s is a sick endpoint.
 */
export const DYNAMODB_ATTEMPT_TIMEOUT_MS = 1_500;
/** Bound on opening the connection, inside the attempt's bound. */
export const DYNAMODB_CONNECTION_TIMEOUT_MS = 1_000;
/**
 * The longest the installed SDK waits before retrying: a throttled call waits a random share of
 * its throttling base delay of 1 s before the first retry (other errors wait less).
 */
export const SDK_RETRY_DELAY_MAX_MS = 1_000;
/** Worst case of one DynamoDB call: every attempt times out, with the longest wait between them. */
export const WRITE_WORST_MS =
  DYNAMODB_MAX_ATTEMPTS * DYNAMODB_ATTEMPT_TIMEOUT_MS + (DYNAMODB_MAX_ATTEMPTS - 1) * SDK_RETRY_DELAY_MAX_MS;

/** Default bound on the CompanyInfo request that verifies the company (B6). */
export const DEFAULT_COMPANY_CHECK_TIMEOUT_MS = 3_000;
export const COMPANY_CHECK_TIMEOUT_BOUNDS = { min: 500, max: 5_000 } as const;
/** Default bound on the token request. */
export const DEFAULT_TOKEN_REQUEST_TIMEOUT_MS = 8_000;
/** The shortest token request worth attempting: with less time left, nothing is claimed. */
export const MIN_TOKEN_REQUEST_MS = 1_000;
/** Time kept for the answer to get out after the last step. */
export const ANSWER_RESERVE_MS = 1_000;

/**
 * DynamoDB calls that may follow the company check: the token write, the update that marks the
 * code CONNECTED when a newer grant was already stored (D5), and recording a failure.
 */
export const STORE_WRITES_RESERVED = 3;

/** Time that must follow a successful exchange: the company check and those writes. */
export function afterExchangeReserveMs(companyCheckTimeoutMs: number): number {
  return companyCheckTimeoutMs + STORE_WRITES_RESERVED * WRITE_WORST_MS;
}

/** Time the callback needs besides the token request: the claim, what follows, the answer. */
export function callbackReservedMs(companyCheckTimeoutMs: number): number {
  return WRITE_WORST_MS + afterExchangeReserveMs(companyCheckTimeoutMs) + ANSWER_RESERVE_MS;
}

/** The longest token request that still lets the callback finish inside its function timeout. */
export function maxTokenRequestTimeoutMs(companyCheckTimeoutMs: number): number {
  return CALLBACK_TIMEOUT_SECONDS * 1000 - callbackReservedMs(companyCheckTimeoutMs);
}
