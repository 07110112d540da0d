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

/** What a verified exchange stores (the callback's part of the record). */
export interface NewConnection extends ConnectionTokens {
  readonly realmId: string;
  /** Epoch ms of the exchange that made the grant. */
  readonly grantedAt: number;
  readonly qboEnvironment: string;
  /** CompanyInfo.CompanyName, as Intuit answered the company check (B6). */
  readonly companyName: string;
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
  readonly tokens?: ConnectionTokens;
  readonly lastRefreshedAt?: number;
  readonly reconnectReason?: ReconnectReason;
  readonly refreshLease?: RefreshLease;
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
  /** Strongly consistent read. */
  get(realmId: string): Promise<Connection | undefined>;
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
   * Resolves the tokens it removed, so the caller can revoke them at Intuit afterwards.
   */
  markDisconnected(realmId: string, now: number): Promise<DisconnectResult>;
}

export type DisconnectResult =
  | { readonly kind: 'not-found' }
  | { readonly kind: 'disconnected'; readonly removedTokens?: ConnectionTokens };
