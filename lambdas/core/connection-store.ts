/**
 * The port to the connections table: one item per QuickBooks company (realmId) holding its current
 * tokens (docs/design.md "The connection, after the callback"). The callback stores a connection in the
 * same transaction that marks its code CONNECTED (FlowLedger.recordConnection); everything that
 * happens to the connection afterwards (refresh under a lease, reconnect required, disconnect)
 * goes through this port.
 *
 * Two numbers order the writes:
 * - `grantedAt`: when the tokens' grant was made (the exchange). "Never overwrite a newer
 *   connection" (D5) compares it: a callback whose grant is older than the stored one is dropped.
 * - `version`: counts writes to the item. It is the fence every conditional write checks (D4, D5):
 *   a refresh stores its rotated tokens only on the version it read.
 */

export type ConnectionStatus = 'ACTIVE' | 'RECONNECT_REQUIRED' | 'DISCONNECTED';

/** Why a connection needs its user to connect again (the app API reports it). */
export type ReconnectReason = 'refresh_token_invalid' | 'refresh_token_expired' | 'disconnected';

/** The tokens of one grant, with absolute expiry times (epoch ms). */
export interface ConnectionTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly accessTokenExpiresAt: number;
  readonly refreshTokenExpiresAt: number;
  /** Intuit's 5-year cap on the grant, when Intuit reported it. */
  readonly refreshTokenHardExpiresAt?: number;
}

/** When a stored token set expires (epoch ms): plain attributes, readable without decrypting. */
export interface TokenExpiry {
  readonly accessTokenExpiresAt: number;
  readonly refreshTokenExpiresAt: number;
  readonly refreshTokenHardExpiresAt?: number;
}

/** What a verified exchange stores (the callback's part of the record). */
export interface NewConnection extends ConnectionTokens {
  readonly realmId: string;
  /** Epoch ms of the exchange that made the grant. */
  readonly grantedAt: number;
  readonly qboEnvironment: string;
  /** CompanyInfo.CompanyName, as Intuit answered the company check (B6). */
  readonly companyName: string;
  /** The app's tenant that started the flow (signed connect links); absent for unsigned flows. */
  readonly tenantId?: string;
  /**
   * The token pair already sealed for this company (H3), when the caller sealed it (the callback
   * does, while the company check runs); otherwise the store seals it.
   */
  readonly sealedTokens?: Uint8Array;
}

export interface RefreshLease {
  /** Who holds it (one invocation). */
  readonly holder: string;
  /** Epoch ms after which anyone may take it. */
  readonly until: number;
}

/** A stored connection, as read. Tokens are absent once it is disconnected. */
export interface Connection {
  readonly realmId: string;
  readonly status: ConnectionStatus;
  readonly version: number;
  readonly grantedAt: number;
  /** Epoch ms of the first verified connection of this company. */
  readonly connectedAt: number;
  readonly qboEnvironment: string;
  readonly companyName?: string;
  /** Present while tokens are stored, whether or not they were read. */
  readonly tokenExpiry?: TokenExpiry;
  /** The tokens themselves: present only when read with tokens (and stored). */
  readonly tokens?: ConnectionTokens;
  readonly lastRefreshedAt?: number;
  readonly reconnectReason?: ReconnectReason;
  readonly refreshLease?: RefreshLease;
  readonly tenantId?: string;
  readonly disconnectedAt?: number;
  /** Ambiguous refreshes in a row since the last stored one (D6 backoff). */
  readonly refreshFailures?: number;
  /** Epoch ms before which no refresh is attempted (backoff after an ambiguous one). */
  readonly refreshRetryAt?: number;
  /**
   * The item was stored before tokens were encrypted and indexed (plaintext tokens, no due time):
   * the first touch rewrites it (migrateLegacy), and the operator's backfill does the rest.
   */
  readonly legacy?: boolean;
  /**
   * The 5-year cap (epoch ms) the app was last told is near (the "Connection Near Hard Expiry"
   * event comes from the write that sets it, once per grant).
   */
  readonly nearHardExpiryNotifiedFor?: number;
}

/** A page of a listing; `cursor` continues it, absent on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor?: string;
}

export type LeaseResult =
  /** The caller holds the lease; `connection` is what it read in the same write (the fence). */
  | { readonly kind: 'taken'; readonly connection: Connection }
  /** Someone else holds an unexpired lease: wait for their result. */
  | { readonly kind: 'held'; readonly lease: RefreshLease }
  /** Not ACTIVE (or unknown): nothing to refresh. */
  | { readonly kind: 'not-active'; readonly connection?: Connection };

/** The outcome of a fenced write: it landed, or a newer write (a reconnect) got there first. */
export type FencedWrite = 'stored' | 'superseded';

export interface ConnectionStore {
  /**
   * Strongly consistent read. With `tokens: false` the tokens are neither read nor decrypted
   * (metadata routes, listings). @default tokens: true
   */
  get(realmId: string, options?: { readonly tokens?: boolean }): Promise<Connection | undefined>;
  /**
   * D4: one refresh at a time per company. Takes the lease if the connection is ACTIVE and nobody
   * holds an unexpired one, and returns the item as it is after the write.
   */
  takeRefreshLease(realmId: string, holder: string, now: number, until: number): Promise<LeaseResult>;
  /** Gives the lease back without changing anything else (only the holder's lease). */
  releaseRefreshLease(realmId: string, holder: string): Promise<void>;
  /**
   * D3, D5: stores the rotated refresh token with the new access token in one write, on the
   * version the caller read. A lapsed lease does not stop it (dropping it would lose the only live
   * refresh token); a newer version does. Releases the lease.
   */
  storeRefreshedTokens(
    realmId: string,
    expectedVersion: number,
    tokens: ConnectionTokens,
    refreshedAt: number,
  ): Promise<FencedWrite>;
  /** D6: the refresh token is dead; no more refreshes until a reconnect. On the version read. */
  markReconnectRequired(
    realmId: string,
    expectedVersion: number,
    reason: ReconnectReason,
  ): Promise<FencedWrite>;
  /**
   * Deletes the tokens and keeps the record, DISCONNECTED, whatever its version (the app said so).
   * Resolves the tokens it removed, so the caller can revoke them at Intuit afterwards. Also releases
   * the tenant binding (B7), so another tenant may connect the company afterwards.
   */
  markDisconnected(realmId: string, now: number): Promise<DisconnectResult>;
  /**
   * D6: records an ambiguous refresh (the stored tokens stay) and gives the lease back: no refresh
   * before `retryAt`, by request or by the refresher. Only the lease's holder's record lands.
   */
  recordRefreshFailure(realmId: string, holder: string, failures: number, retryAt: number): Promise<void>;
  /**
   * Encrypts and indexes an item stored before either existed, on the version read. Never changes
   * the version: a refresh fenced on it must still land.
   */
  migrateLegacy(connection: Connection): Promise<FencedWrite>;
  /** A tenant's connections, without tokens (an index, never a scan). */
  listByTenant(
    tenantId: string,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<Connection>>;
  /** realmIds of ACTIVE connections the refresher should refresh (due at or before `dueBy`), oldest first. */
  listDueForRefresh(
    dueBy: number,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<string>>;
  /**
   * I3: claims the right to ask Intuit whether an ACTIVE connection still lives, at most once per
   * `minIntervalMs` per company whatever the request rate (the Disconnect URL is unauthenticated).
   * True when this caller may check now.
   */
  claimDisconnectCheck(realmId: string, now: number, minIntervalMs: number): Promise<boolean>;
  /**
   * I3: Intuit confirmed the grant is gone (invalid_grant) after the user disconnected inside
   * QuickBooks: DISCONNECTED, tokens removed, on the version read (a reconnect meanwhile wins).
   */
  confirmDisconnected(realmId: string, expectedVersion: number, now: number): Promise<FencedWrite>;
  /** How many connections wait for their user to reconnect. */
  countReconnectRequired(): Promise<number>;
  /** How many ACTIVE connections reach their 5-year cap at or before `before`. */
  countNearHardExpiry(before: number): Promise<number>;
  /** ACTIVE connections whose 5-year cap falls at or before `before`, with that cap (an index). */
  listNearHardExpiry(
    before: number,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<{ readonly realmId: string; readonly hardExpiresAt: number }>>;
  /**
   * Records, once per grant, that the app is told this ACTIVE connection nears its cap: true when
   * this call set it (its write is what the lifecycle event comes from), false when it was set for
   * this cap already or the connection changed.
   */
  markNearHardExpiryNotified(realmId: string, hardExpiresAt: number): Promise<boolean>;
}

export type DisconnectResult =
  | { readonly kind: 'not-found' }
  | { readonly kind: 'disconnected'; readonly removedTokens?: ConnectionTokens };
