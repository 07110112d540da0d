/**
 * The callback's time budget (SECURITY.md C4), shared with the CDK configuration that sizes the
 * callback function's timeout, so the two cannot disagree.
 */

/** Worst case of one DynamoDB call: 2 attempts of at most 1.5 s plus backoff (dynamodb-flow-ledger.ts). */
export const WRITE_WORST_MS = 3_500;
/** Time kept back for revoking tokens that could not be stored (C8). */
export const REVOKE_RESERVE_MS = 2_500;
/**
 * Time kept back from the exchange for what must follow it (C4, C8): at least one token write,
 * recording the failure if it does not land, and the revocation.
 */
export const AFTER_EXCHANGE_RESERVE_MS = 2 * WRITE_WORST_MS + REVOKE_RESERVE_MS;
/** Time the callback needs besides the token request: the claim, what follows, 1 s for the answer. */
export const CALLBACK_RESERVED_MS = WRITE_WORST_MS + AFTER_EXCHANGE_RESERVE_MS + 1_000;
