/**
 * An in-memory ConnectionStore with the semantics of the DynamoDB adapter (the contract tests run
 * both): verified connections replace older grants only (D5), every write counts a version, the
 * lease checks status and expiry, and fenced writes land only on the version read.
 */
import type {
  Connection,
  ConnectionStore,
  ConnectionTokens,
  DisconnectResult,
  FencedWrite,
  LeaseResult,
  NewConnection,
  Page,
  ReconnectReason,
  TokenExpiry,
} from '../../../lambdas/core/connection-store';
import { KEEP_ALIVE_MARGIN_MS } from '../../../lambdas/core/token-budget';
import type { ConnectionWrite } from '../../../lambdas/core/flow-ledger';

export class InMemoryConnectionStore implements ConnectionStore {
  readonly connections = new Map<string, Connection>();

  /** What the ledger's recordConnection does to the connection item, without the code part. */
  putVerified(connection: NewConnection): ConnectionWrite {
    const existing = this.connections.get(connection.realmId);
    if (existing !== undefined && existing.grantedAt >= connection.grantedAt) return 'superseded';
    this.connections.set(connection.realmId, {
      realmId: connection.realmId,
      status: 'ACTIVE',
      version: (existing?.version ?? 0) + 1,
      grantedAt: connection.grantedAt,
      connectedAt: existing?.connectedAt ?? connection.grantedAt,
      qboEnvironment: connection.qboEnvironment,
      companyName: connection.companyName,
      ...(connection.tenantId !== undefined ? { tenantId: connection.tenantId } : {}),
      tokens: tokensOf(connection),
      tokenExpiry: expiryOf(connection),
    });
    return 'stored';
  }

  async get(realmId: string, options: { readonly tokens?: boolean } = {}): Promise<Connection | undefined> {
    const connection = this.connections.get(realmId);
    if (connection === undefined || options.tokens !== false) return connection;
    const { tokens: _tokens, ...withoutTokens } = connection;
    return withoutTokens;
  }

  async takeRefreshLease(realmId: string, holder: string, now: number, until: number): Promise<LeaseResult> {
    const connection = this.connections.get(realmId);
    if (connection === undefined) return { kind: 'not-active' };
    if (connection.status !== 'ACTIVE') return { kind: 'not-active', connection };
    if (connection.refreshLease !== undefined && connection.refreshLease.until > now)
      return { kind: 'held', lease: connection.refreshLease };
    const leased = { ...connection, refreshLease: { holder, until } };
    this.connections.set(realmId, leased);
    return { kind: 'taken', connection: leased };
  }

  async releaseRefreshLease(realmId: string, holder: string): Promise<void> {
    const connection = this.connections.get(realmId);
    if (connection?.refreshLease?.holder !== holder) return;
    this.connections.set(realmId, withoutLease(connection));
  }

  async storeRefreshedTokens(
    realmId: string,
    expectedVersion: number,
    tokens: ConnectionTokens,
    refreshedAt: number,
  ): Promise<FencedWrite> {
    return this.fenced(realmId, expectedVersion, (c) => {
      const {
        refreshFailures: _failures,
        refreshRetryAt: _retryAt,
        legacy: _legacy,
        ...rest
      } = withoutLease(c);
      return {
        ...rest,
        tokens: tokensOf(tokens),
        tokenExpiry: expiryOf(tokens),
        lastRefreshedAt: refreshedAt,
      };
    });
  }

  async markReconnectRequired(
    realmId: string,
    expectedVersion: number,
    reason: ReconnectReason,
  ): Promise<FencedWrite> {
    return this.fenced(realmId, expectedVersion, (c) => {
      const { tokens: _tokens, tokenExpiry: _expiry, ...rest } = withoutLease(c);
      return { ...rest, status: 'RECONNECT_REQUIRED', reconnectReason: reason };
    });
  }

  async markDisconnected(realmId: string): Promise<DisconnectResult> {
    const connection = this.connections.get(realmId);
    if (connection === undefined) return { kind: 'not-found' };
    const { tokens, tokenExpiry: _expiry, ...rest } = withoutLease(connection);
    this.connections.set(realmId, {
      ...rest,
      status: 'DISCONNECTED',
      reconnectReason: 'disconnected',
      version: connection.version + 1,
    });
    return { kind: 'disconnected', ...(tokens !== undefined ? { removedTokens: tokens } : {}) };
  }

  async recordRefreshFailure(
    realmId: string,
    holder: string,
    failures: number,
    retryAt: number,
  ): Promise<void> {
    const connection = this.connections.get(realmId);
    if (connection?.refreshLease?.holder !== holder) return;
    this.connections.set(realmId, {
      ...withoutLease(connection),
      refreshFailures: failures,
      refreshRetryAt: retryAt,
    });
  }

  async migrateLegacy(connection: Connection): Promise<FencedWrite> {
    const stored = this.connections.get(connection.realmId);
    if (stored?.legacy !== true || stored.version !== connection.version) return 'superseded';
    const { legacy: _legacy, ...rest } = stored;
    this.connections.set(connection.realmId, rest);
    return 'stored';
  }

  async listByTenant(
    tenantId: string,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<Connection>> {
    const all = [...this.connections.values()]
      .filter((c) => c.tenantId === tenantId)
      .sort((a, b) => a.realmId.localeCompare(b.realmId));
    return this.page(
      all,
      options,
      (c) => c.realmId,
      (c) => {
        const { tokens: _tokens, ...rest } = c;
        return rest;
      },
    );
  }

  async listDueForRefresh(
    dueBy: number,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<string>> {
    const due = [...this.connections.values()]
      .filter((c) => c.status === 'ACTIVE' && c.tokenExpiry !== undefined)
      .map((c) => ({
        realmId: c.realmId,
        dueAt: c.refreshRetryAt ?? (c.tokenExpiry?.refreshTokenExpiresAt ?? 0) - KEEP_ALIVE_MARGIN_MS,
      }))
      .filter((c) => c.dueAt <= dueBy)
      .sort((a, b) => a.dueAt - b.dueAt || a.realmId.localeCompare(b.realmId));
    return this.page(
      due,
      options,
      (c) => c.realmId,
      (c) => c.realmId,
    );
  }

  async countReconnectRequired(): Promise<number> {
    return [...this.connections.values()].filter((c) => c.status === 'RECONNECT_REQUIRED').length;
  }

  async countNearHardExpiry(before: number): Promise<number> {
    return [...this.connections.values()].filter(
      (c) => c.status === 'ACTIVE' && (c.tokenExpiry?.refreshTokenHardExpiresAt ?? Infinity) <= before,
    ).length;
  }

  /** Offset cursors: enough for a fake (the adapter's are DynamoDB's keys). */
  private page<T, R>(
    all: readonly T[],
    options: { readonly limit: number; readonly cursor?: string },
    _key: (item: T) => string,
    map: (item: T) => R,
  ): Page<R> {
    const start = options.cursor === undefined ? 0 : Number(options.cursor);
    const items = all.slice(start, start + options.limit).map(map);
    const next = start + options.limit;
    return { items, ...(next < all.length ? { cursor: String(next) } : {}) };
  }

  private fenced(
    realmId: string,
    expectedVersion: number,
    change: (c: Connection) => Connection,
  ): FencedWrite {
    const connection = this.connections.get(realmId);
    if (connection === undefined || connection.version !== expectedVersion) return 'superseded';
    this.connections.set(realmId, { ...change(connection), version: connection.version + 1 });
    return 'stored';
  }
}

function withoutLease(connection: Connection): Connection {
  const copy = { ...connection };
  delete (copy as { refreshLease?: unknown }).refreshLease;
  return copy;
}

function expiryOf(tokens: ConnectionTokens): TokenExpiry {
  return {
    accessTokenExpiresAt: tokens.accessTokenExpiresAt,
    refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
    ...(tokens.refreshTokenHardExpiresAt !== undefined
      ? { refreshTokenHardExpiresAt: tokens.refreshTokenHardExpiresAt }
      : {}),
  };
}

function tokensOf(tokens: ConnectionTokens): ConnectionTokens {
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: tokens.accessTokenExpiresAt,
    refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
    ...(tokens.refreshTokenHardExpiresAt !== undefined
      ? { refreshTokenHardExpiresAt: tokens.refreshTokenHardExpiresAt }
      : {}),
  };
}
