/**
 * The token API's and the refresher's time budget (docs/security.md C4, D4): how long one refresh
 * may take, how long its lease lasts, how long a concurrent caller waits for it. Shared with the
 * route registry and the CDK stack that size the functions, so they cannot disagree.
 *
 * A refresh is: take the lease (one DynamoDB call), one token request, then the store of the
 * rotated tokens, retried (REFRESH_STORE_WRITES calls) because the rotated refresh token may be the
 * only live one. The lease must outlast all of it, so no second refresh can start while the first
 * may still land.
 */
import { ANSWER_RESERVE_MS, WRITE_WORST_MS } from './time-budget';

/** Bound on one refresh request to Intuit's token endpoint. */
export const REFRESH_REQUEST_TIMEOUT_MS = 5_000;
/** The shortest refresh request worth sending: with less time left the lease is given back. */
export const MIN_REFRESH_REQUEST_MS = 1_000;
/** DynamoDB calls that may follow a refresh: the fenced store and its retries. */
export const REFRESH_STORE_WRITES = 3;
/** Time that must follow the refresh request: the store writes. */
export const AFTER_REFRESH_RESERVE_MS = REFRESH_STORE_WRITES * WRITE_WORST_MS;

/**
 * D4: how long a refresh lease lasts: the request plus every store write plus a second's slack.
 * Nobody else may refresh before it lapses, so a slow store still lands before a second refresh.
 */
export const REFRESH_LEASE_MS = REFRESH_REQUEST_TIMEOUT_MS + AFTER_REFRESH_RESERVE_MS + 1_000;

/** How long a caller that finds the lease taken waits for the holder's tokens, then 503. */
export const LEASE_WAIT_MS = 8_000;
/** Poll interval while waiting: first and last (it doubles). */
export const LEASE_POLL_MS = { first: 50, max: 400 } as const;

/**
 * The API function's timeout: the read, the lease, a full refresh and its store, the answer; or the
 * read and a full wait. API Gateway waits one second more (29 s at most).
 */
export const API_TIMEOUT_SECONDS = Math.ceil(
  (2 * WRITE_WORST_MS + REFRESH_REQUEST_TIMEOUT_MS + AFTER_REFRESH_RESERVE_MS + ANSWER_RESERVE_MS) / 1000,
);

/** The refresher's timeout: it takes no new connection once less than a refresh is left. */
export const REFRESHER_TIMEOUT_SECONDS = 300;

/**
 * Backoff after an ambiguous refresh (timeout, 5xx, 429, reset), per company: the next attempt
 * waits 30 s, then twice as long each time, at most 6 h. Requests in between answer 503 with
 * Retry-After without calling Intuit, so an outage costs Intuit at most a few requests per company
 * per day, whatever the app's request rate.
 */
export const REFRESH_BACKOFF = { firstMs: 30_000, maxMs: 6 * 60 * 60 * 1000 } as const;

/** When the next refresh may be attempted after `failures` ambiguous ones in a row. */
export function refreshRetryDelayMs(failures: number): number {
  const exponent = Math.max(0, Math.min(failures - 1, 20));
  return Math.min(REFRESH_BACKOFF.firstMs * 2 ** exponent, REFRESH_BACKOFF.maxMs);
}

/** Default and bounds of the access-token route's `minValidSeconds` (an access token lives 3600 s). */
export const MIN_VALID_SECONDS = { default: 300, min: 0, max: 3300 } as const;

/**
 * Keep-alive: a connection becomes due for a refresh by the refresher when its refresh token has
 * this long left of its rolling 100-day window (so after about 70 idle days), leaving a month of
 * retries before it would die.
 */
export const KEEP_ALIVE_MARGIN_MS = 30 * 24 * 60 * 60 * 1000;
/** A connection whose 5-year hard cap is this close is counted as near hard expiry (and reported). */
export const NEAR_HARD_EXPIRY_MS = 30 * 24 * 60 * 60 * 1000;
