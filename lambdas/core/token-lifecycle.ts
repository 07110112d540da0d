/**
 * The token lifecycle after the callback (docs/design.md "Refresh"): an access token valid for as
 * long as the app asks, refreshed at most once at a time per company across every function (D4),
 * the rotated refresh token stored in the same write as the access token on the version read (D3,
 * D5), ambiguity kept apart from refusal (D6), and the keep-alive of idle connections.
 *
 * Every path ends in a value the app API maps to one status; nothing here knows HTTP.
 */
import { randomUUID } from 'node:crypto';
import type { CredentialsSource } from './config';
import type { Connection, ConnectionStore, ConnectionTokens, ReconnectReason } from './connection-store';
import { ConfigError, CredentialsUnavailableError, StorageUnavailableError } from './errors';
import type { TokenDependencies, TokenRuntime } from './runtime';
import type { Telemetry } from './telemetry';
import { ANSWER_RESERVE_MS, WRITE_WORST_MS } from './time-budget';
import {
  AFTER_REFRESH_RESERVE_MS,
  KEEP_ALIVE_MARGIN_MS,
  LEASE_POLL_MS,
  LEASE_WAIT_MS,
  MIN_REFRESH_REQUEST_MS,
  REFRESH_LEASE_MS,
  REFRESH_REQUEST_TIMEOUT_MS,
  REFRESH_STORE_WRITES,
  refreshRetryDelayMs,
} from './token-budget';
import type { TokenEndpoint, TokenSet } from './token-endpoint';
import { TokenEndpointError } from './token-endpoint';
import { writeWithRetry } from './write-retry';

export interface TokenLifecycleDeps {
  readonly store: ConnectionStore;
  readonly tokenEndpoint: TokenEndpoint;
  readonly credentials: CredentialsSource;
  readonly telemetry: Telemetry;
  /** Epoch ms. */
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** A unique name for a lease holder (one per refresh attempt). */
  readonly newHolderId: () => string;
}

export type AccessTokenResult =
  | {
      readonly kind: 'token';
      readonly connection: Connection;
      readonly tokens: ConnectionTokens;
      /** This call refreshed (false: stored tokens, or a sibling's refresh it waited for). */
      readonly refreshed: boolean;
    }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'reconnect-required'; readonly reason: ReconnectReason; readonly connection: Connection }
  /** Nothing definite now: the stored tokens are kept; ask again after `retryAfterSeconds`. */
  | { readonly kind: 'unavailable'; readonly retryAfterSeconds: number };

export type KeepAliveResult = 'refreshed' | 'not-due' | 'busy' | 'reconnect-required' | 'unavailable';

/**
 * What a Disconnect URL landing found out: Intuit refused the grant (now DISCONNECTED), the grant
 * still works (refreshed as any refresh), or nothing was asked (unknown or inactive company, checked
 * within the hour, a refresh in flight), or Intuit was unclear.
 */
export type DisconnectCheckResult = 'disconnected' | 'still-connected' | 'not-checked' | 'unavailable';

/** I3: at most one check with Intuit per company per hour, whatever the Disconnect URL's traffic. */
export const DISCONNECT_CHECK_INTERVAL_MS = 60 * 60 * 1000;

/** Re-entries (after a sibling's rotation or a lapsed lease) one request may make: never a loop. */
const MAX_REENTRIES = 2;

interface Attempt {
  readonly realmId: string;
  readonly minValidMs: number;
  /** Epoch ms by which the answer must be on its way. */
  readonly deadline: number;
  reentries: number;
  /** What Intuit refusing the refresh token means: a reconnect is needed (default), or a confirmed disconnect. */
  readonly onRefused?: 'reconnect-required' | 'disconnected';
}

export class TokenLifecycle {
  constructor(private readonly deps: TokenLifecycleDeps) {}

  /** The lifecycle of a token function (the app API, the Disconnect URL, the refresher). */
  static of(runtime: TokenRuntime, deps: TokenDependencies): TokenLifecycle {
    return new TokenLifecycle({
      store: runtime.connections,
      tokenEndpoint: runtime.tokenEndpoint,
      credentials: runtime.credentials,
      telemetry: deps.telemetry,
      clock: deps.clock,
      sleep: deps.sleep,
      newHolderId: deps.newHolderId ?? randomUUID,
    });
  }

  /** An access token valid for at least `minValidMs`, refreshing first (once, under the lease) if needed. */
  async accessToken(realmId: string, minValidMs: number, deadline: number): Promise<AccessTokenResult> {
    const connection = await this.deps.store.get(realmId);
    if (connection === undefined) return { kind: 'not-found' };
    const attempt: Attempt = { realmId, minValidMs, deadline, reentries: 0 };
    return this.fromConnection(await this.migrated(connection), attempt);
  }

  /**
   * The refresher's step for one connection the due index named: refresh it if it is still ACTIVE
   * and due (a request may have refreshed it since the index was read), under the same lease as
   * every refresh.
   */
  async keepAlive(realmId: string, deadline: number): Promise<KeepAliveResult> {
    const connection = await this.deps.store.get(realmId);
    if (connection?.status !== 'ACTIVE' || connection.tokens === undefined) return 'not-due';
    const current = await this.migrated(connection);
    const now = this.deps.clock();
    if (!this.dueForKeepAlive(current, now)) return 'not-due';
    if (this.refreshTokenExpired(current, now)) {
      await this.requireReconnect(current, 'refresh_token_expired');
      return 'reconnect-required';
    }
    const holder = this.deps.newHolderId();
    const lease = await this.deps.store.takeRefreshLease(realmId, holder, now, now + REFRESH_LEASE_MS);
    if (lease.kind === 'held') return 'busy';
    if (lease.kind === 'not-active') return 'not-due';
    if (!this.dueForKeepAlive(lease.connection, now)) {
      await this.deps.store.releaseRefreshLease(realmId, holder);
      return 'not-due';
    }
    const attempt: Attempt = { realmId, minValidMs: 0, deadline, reentries: MAX_REENTRIES };
    const result = await this.refreshHolding(lease.connection, holder, attempt);
    if (result.kind === 'token') {
      if (result.refreshed) this.deps.telemetry.record({ code: 'KEEP_ALIVE_REFRESHED', fields: { realmId } });
      return result.refreshed ? 'refreshed' : 'not-due';
    }
    return result.kind === 'reconnect-required' ? 'reconnect-required' : 'unavailable';
  }

  /**
   * I3: the user's browser landed on the Disconnect URL naming this company. Nothing is trusted from
   * that request: Intuit is asked, by a refresh under the same lease as every refresh and at most
   * once per company per hour, and only its `invalid_grant` marks the connection DISCONNECTED.
   */
  async confirmDisconnect(realmId: string, deadline: number): Promise<DisconnectCheckResult> {
    const { store, clock } = this.deps;
    const now = clock();
    if (!(await store.claimDisconnectCheck(realmId, now, DISCONNECT_CHECK_INTERVAL_MS))) return 'not-checked';
    const holder = this.deps.newHolderId();
    const lease = await store.takeRefreshLease(realmId, holder, now, now + REFRESH_LEASE_MS);
    // A refresh in flight will find out itself; an inactive company has nothing to check.
    if (lease.kind !== 'taken') return 'not-checked';
    const attempt: Attempt = {
      realmId,
      minValidMs: 0,
      deadline,
      reentries: MAX_REENTRIES,
      onRefused: 'disconnected',
    };
    const result = await this.refreshHolding(lease.connection, holder, attempt);
    if (result.kind === 'token') return 'still-connected';
    if (result.kind === 'reconnect-required') return 'disconnected';
    return result.kind === 'not-found' ? 'not-checked' : 'unavailable';
  }

  private dueForKeepAlive(connection: Connection, now: number): boolean {
    const expiry = connection.tokenExpiry;
    if (connection.status !== 'ACTIVE' || expiry === undefined) return false;
    if ((connection.refreshRetryAt ?? 0) > now) return false;
    return expiry.refreshTokenExpiresAt - KEEP_ALIVE_MARGIN_MS <= now;
  }

  private async fromConnection(connection: Connection, attempt: Attempt): Promise<AccessTokenResult> {
    if (connection.status !== 'ACTIVE' || connection.tokens === undefined) {
      return {
        kind: 'reconnect-required',
        reason:
          connection.reconnectReason ??
          (connection.status === 'DISCONNECTED' ? 'disconnected' : 'refresh_token_invalid'),
        connection,
      };
    }
    const now = this.deps.clock();
    if (this.validFor(connection.tokens, attempt.minValidMs, now))
      return { kind: 'token', connection, tokens: connection.tokens, refreshed: false };
    if (this.refreshTokenExpired(connection, now))
      return this.requireReconnect(connection, 'refresh_token_expired');
    if ((connection.refreshRetryAt ?? 0) > now) {
      this.deps.telemetry.record({
        code: 'REFRESH_BACKING_OFF',
        fields: { realmId: connection.realmId, refreshFailures: connection.refreshFailures },
      });
      return unavailable((connection.refreshRetryAt ?? now) - now);
    }
    return this.refreshSingleFlight(connection, attempt);
  }

  /** D4: take the lease and refresh, or wait for whoever holds it. */
  private async refreshSingleFlight(connection: Connection, attempt: Attempt): Promise<AccessTokenResult> {
    const now = this.deps.clock();
    const holder = this.deps.newHolderId();
    const lease = await this.deps.store.takeRefreshLease(
      attempt.realmId,
      holder,
      now,
      now + REFRESH_LEASE_MS,
    );
    switch (lease.kind) {
      case 'not-active':
        return lease.connection === undefined
          ? { kind: 'not-found' }
          : this.fromConnection(lease.connection, attempt);
      case 'held':
        return this.waitForHolder(connection.version, lease.lease.until, attempt);
      case 'taken': {
        const current = lease.connection;
        // The lease write returned the item as it is now: a sibling may have refreshed since our read.
        if (current.tokens !== undefined && this.validFor(current.tokens, attempt.minValidMs, now)) {
          await this.deps.store.releaseRefreshLease(attempt.realmId, holder);
          return { kind: 'token', connection: current, tokens: current.tokens, refreshed: false };
        }
        if ((current.refreshRetryAt ?? 0) > now) {
          await this.deps.store.releaseRefreshLease(attempt.realmId, holder);
          return unavailable((current.refreshRetryAt ?? now) - now);
        }
        return this.refreshHolding(current, holder, attempt);
      }
    }
  }

  /** One refresh request by the lease's holder, and the fenced store of what it returned. */
  private async refreshHolding(
    connection: Connection,
    holder: string,
    attempt: Attempt,
  ): Promise<AccessTokenResult> {
    const { store, telemetry, clock } = this.deps;
    const realmId = attempt.realmId;
    const tokens = connection.tokens;
    const release = () => store.releaseRefreshLease(realmId, holder);
    if (tokens === undefined) {
      await release();
      return this.fromConnection(connection, attempt);
    }
    const timeoutMs = Math.min(
      REFRESH_REQUEST_TIMEOUT_MS,
      attempt.deadline - clock() - AFTER_REFRESH_RESERVE_MS - ANSWER_RESERVE_MS,
    );
    if (timeoutMs < MIN_REFRESH_REQUEST_MS) {
      await release();
      telemetry.record({
        code: 'TIME_BUDGET_EXHAUSTED',
        message: 'Too little time left to refresh safely; lease given back, Intuit not called',
        fields: { realmId },
      });
      return unavailable(1_000);
    }
    let credentials;
    try {
      credentials = await this.deps.credentials.get();
    } catch (error) {
      await release();
      if (error instanceof CredentialsUnavailableError) {
        telemetry.record({ code: 'SECRETS_UNAVAILABLE', fields: { realmId, errorName: error.awsErrorName } });
        return unavailable(5_000);
      }
      throw error;
    }
    const started = clock();
    let answer: { tokens: TokenSet; intuitTid?: string };
    try {
      answer = await this.deps.tokenEndpoint.refresh(tokens.refreshToken, credentials, timeoutMs);
    } catch (error) {
      telemetry.timing('RefreshLatency', clock() - started);
      if (!(error instanceof TokenEndpointError)) {
        await release();
        throw error;
      }
      return this.refreshFailed(connection, holder, attempt, error);
    }
    telemetry.timing('RefreshLatency', clock() - started);
    const refreshed = absoluteTokens(answer.tokens, started);
    const write = await writeWithRetry(
      () => store.storeRefreshedTokens(realmId, connection.version, refreshed, started),
      // Only DynamoDB's own failures are worth another try; a cipher failure is not.
      (error): error is Error => !(error instanceof StorageUnavailableError),
      {
        clock,
        sleep: this.deps.sleep,
        deadline: attempt.deadline,
        reserveMs: ANSWER_RESERVE_MS,
        attempts: REFRESH_STORE_WRITES,
      },
    );
    const fields = { realmId, intuitTid: answer.intuitTid, latencyMs: clock() - started };
    if (write.kind === 'written' && write.value === 'stored') {
      telemetry.record({
        code: 'TOKEN_REFRESHED',
        fields: { ...fields, version: connection.version + 1, storeAttempts: write.attempts },
      });
      return {
        kind: 'token',
        connection: {
          ...connection,
          version: connection.version + 1,
          tokens: refreshed,
          lastRefreshedAt: started,
        },
        tokens: refreshed,
        refreshed: true,
      };
    }
    if (write.kind === 'written') {
      // D5: a reconnect landed while we refreshed; its tokens are the company's now.
      telemetry.record({ code: 'REFRESH_SUPERSEDED', fields });
      const current = await store.get(realmId);
      if (
        current?.tokens !== undefined &&
        current.status === 'ACTIVE' &&
        this.validFor(current.tokens, attempt.minValidMs, clock())
      )
        return { kind: 'token', connection: current, tokens: current.tokens, refreshed: false };
      return unavailable(1_000);
    }
    // The rotated refresh token exists only here now. The access token is good: serve it, and say loudly
    // that the stored refresh token is the previous one (Intuit usually keeps it alive within 24 h).
    telemetry.record({
      code: 'REFRESH_STORE_FAILED',
      fields: { ...fields, errorName: write.error.name, storeAttempts: write.attempts },
    });
    return { kind: 'token', connection, tokens: refreshed, refreshed: true };
  }

  private async refreshFailed(
    connection: Connection,
    holder: string,
    attempt: Attempt,
    error: TokenEndpointError,
  ): Promise<AccessTokenResult> {
    const { store, telemetry, clock } = this.deps;
    const realmId = attempt.realmId;
    const fields = {
      realmId,
      intuitTid: error.details.intuitTid,
      status: error.details.status,
      oauthError: error.details.oauthError,
      transportCode: error.details.transportCode,
    };
    switch (error.kind) {
      case 'invalid_grant':
        return this.refusedGrant(connection, holder, attempt, fields);
      case 'invalid_client':
        this.deps.credentials.invalidate();
        await store.releaseRefreshLease(realmId, holder);
        telemetry.record({ code: 'REFRESH_INVALID_CLIENT', fields });
        return unavailable(60_000);
      case 'unreachable':
        // Provably never left: nothing rotated, no backoff needed beyond a moment.
        await store.releaseRefreshLease(realmId, holder);
        telemetry.record({
          code: 'REFRESH_AMBIGUOUS',
          message: 'Refresh request never reached Intuit; stored tokens kept',
          fields,
        });
        return unavailable(5_000);
      case 'ambiguous':
      case 'malformed':
      case 'oauth_error': {
        // D6: the answer may have rotated the token; keep what is stored and back off.
        const failures = (connection.refreshFailures ?? 0) + 1;
        const delay = refreshRetryDelayMs(failures);
        await store.recordRefreshFailure(realmId, holder, failures, clock() + delay);
        telemetry.record({
          code: 'REFRESH_AMBIGUOUS',
          fields: {
            ...fields,
            failureKind: error.kind,
            refreshFailures: failures,
            retryAfterSeconds: Math.ceil(delay / 1000),
          },
        });
        return unavailable(delay);
      }
    }
  }

  /**
   * D6: Intuit refused the refresh token. A sibling may have rotated it (a lease that lapsed) or a
   * reconnect may have replaced it: re-read once, and only a connection unchanged since our read
   * becomes RECONNECT_REQUIRED.
   */
  private async refusedGrant(
    connection: Connection,
    holder: string,
    attempt: Attempt,
    fields: Record<string, string | number | undefined>,
  ): Promise<AccessTokenResult> {
    const { store, telemetry } = this.deps;
    const current = await store.get(attempt.realmId);
    if (current !== undefined && current.version !== connection.version) {
      await store.releaseRefreshLease(attempt.realmId, holder);
      return this.reenter(current, attempt);
    }
    if (attempt.onRefused === 'disconnected') {
      const confirmed = await store.confirmDisconnected(
        attempt.realmId,
        connection.version,
        this.deps.clock(),
      );
      if (confirmed === 'superseded') {
        const latest = await store.get(attempt.realmId);
        return latest === undefined ? { kind: 'not-found' } : this.reenter(latest, attempt);
      }
      telemetry.record({ code: 'DISCONNECT_CONFIRMED', fields: { ...fields, version: connection.version } });
      return {
        kind: 'reconnect-required',
        reason: 'disconnected',
        connection: { ...connection, status: 'DISCONNECTED', reconnectReason: 'disconnected' },
      };
    }
    const marked = await store.markReconnectRequired(
      attempt.realmId,
      connection.version,
      'refresh_token_invalid',
    );
    if (marked === 'superseded') {
      const latest = await store.get(attempt.realmId);
      return latest === undefined ? { kind: 'not-found' } : this.reenter(latest, attempt);
    }
    telemetry.record({ code: 'REFRESH_INVALID_GRANT', fields: { ...fields, version: connection.version } });
    return {
      kind: 'reconnect-required',
      reason: 'refresh_token_invalid',
      connection: { ...connection, status: 'RECONNECT_REQUIRED', reconnectReason: 'refresh_token_invalid' },
    };
  }

  /** Waits, bounded, for the holder's tokens; all waiters get the same new token. */
  private async waitForHolder(
    readVersion: number,
    leaseUntil: number,
    attempt: Attempt,
  ): Promise<AccessTokenResult> {
    const { clock, sleep, store } = this.deps;
    const waitUntil = Math.min(
      clock() + LEASE_WAIT_MS,
      attempt.deadline - WRITE_WORST_MS - ANSWER_RESERVE_MS,
    );
    let delay: number = LEASE_POLL_MS.first;
    let until = leaseUntil;
    while (clock() + delay < waitUntil) {
      await sleep(delay);
      delay = Math.min(delay * 2, LEASE_POLL_MS.max);
      const current = await store.get(attempt.realmId);
      if (current === undefined) return { kind: 'not-found' };
      const now = clock();
      if (current.status !== 'ACTIVE' || current.tokens === undefined)
        return this.fromConnection(current, attempt);
      if (this.validFor(current.tokens, attempt.minValidMs, now))
        return { kind: 'token', connection: current, tokens: current.tokens, refreshed: false };
      if ((current.refreshRetryAt ?? 0) > now) return unavailable((current.refreshRetryAt ?? now) - now);
      if (current.refreshLease === undefined || current.refreshLease.until <= now) {
        // The holder finished without usable tokens or died: one more try of our own.
        if (current.version === readVersion || current.refreshLease === undefined)
          return this.reenter(current, attempt);
      }
      until = current.refreshLease?.until ?? until;
    }
    this.deps.telemetry.record({ code: 'REFRESH_WAIT_TIMED_OUT', fields: { realmId: attempt.realmId } });
    return unavailable(Math.max(1_000, until - clock()));
  }

  private async reenter(connection: Connection, attempt: Attempt): Promise<AccessTokenResult> {
    if (attempt.reentries >= MAX_REENTRIES) return unavailable(1_000);
    attempt.reentries += 1;
    return this.fromConnection(connection, attempt);
  }

  private async requireReconnect(
    connection: Connection,
    reason: ReconnectReason,
  ): Promise<AccessTokenResult> {
    const marked = await this.deps.store.markReconnectRequired(
      connection.realmId,
      connection.version,
      reason,
    );
    if (marked === 'stored')
      this.deps.telemetry.record({
        code: 'REFRESH_TOKEN_EXPIRED',
        fields: {
          realmId: connection.realmId,
          refreshTokenExpiresAt: isoOf(connection.tokenExpiry?.refreshTokenExpiresAt),
          refreshTokenHardExpiresAt: isoOf(connection.tokenExpiry?.refreshTokenHardExpiresAt),
        },
      });
    return {
      kind: 'reconnect-required',
      reason,
      connection: { ...connection, status: 'RECONNECT_REQUIRED', reconnectReason: reason },
    };
  }

  /** Items stored before encryption are sealed and indexed on first touch (best effort). */
  private async migrated(connection: Connection): Promise<Connection> {
    if (connection.legacy !== true) return connection;
    try {
      if ((await this.deps.store.migrateLegacy(connection)) === 'stored')
        this.deps.telemetry.record({
          code: 'LEGACY_CONNECTION_MIGRATED',
          fields: { realmId: connection.realmId },
        });
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      // The backfill, or the next touch, will do it; this request does not depend on it.
    }
    return connection;
  }

  private validFor(tokens: ConnectionTokens, minValidMs: number, now: number): boolean {
    return tokens.accessTokenExpiresAt - now >= minValidMs;
  }

  private refreshTokenExpired(connection: Connection, now: number): boolean {
    const expiry = connection.tokenExpiry ?? connection.tokens;
    if (expiry === undefined) return false;
    return (
      expiry.refreshTokenExpiresAt <= now ||
      (expiry.refreshTokenHardExpiresAt !== undefined && expiry.refreshTokenHardExpiresAt <= now)
    );
  }
}

/** Intuit's relative lifetimes as absolute times, counted from when the request was sent. */
export function absoluteTokens(tokens: TokenSet, sentAt: number): ConnectionTokens {
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: sentAt + tokens.expiresInSeconds * 1000,
    refreshTokenExpiresAt: sentAt + tokens.refreshTokenExpiresInSeconds * 1000,
    ...(tokens.refreshTokenHardExpiresInSeconds !== undefined
      ? { refreshTokenHardExpiresAt: sentAt + tokens.refreshTokenHardExpiresInSeconds * 1000 }
      : {}),
  };
}

function unavailable(afterMs: number): AccessTokenResult {
  return { kind: 'unavailable', retryAfterSeconds: Math.max(1, Math.ceil(afterMs / 1000)) };
}

function isoOf(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}
