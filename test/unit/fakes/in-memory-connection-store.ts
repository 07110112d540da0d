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
  ReconnectReason,
} from '../../../lambdas/core/connection-store';
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
      tokens: tokensOf(connection),
    });
    return 'stored';
  }

  async get(realmId: string): Promise<Connection | undefined> {
    return this.connections.get(realmId);
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
    return this.fenced(realmId, expectedVersion, (c) => ({
      ...withoutLease(c),
      tokens: tokensOf(tokens),
      lastRefreshedAt: refreshedAt,
    }));
  }

  async markReconnectRequired(
    realmId: string,
    expectedVersion: number,
    reason: ReconnectReason,
  ): Promise<FencedWrite> {
    return this.fenced(realmId, expectedVersion, (c) => ({
      ...withoutLease(c),
      status: 'RECONNECT_REQUIRED',
      reconnectReason: reason,
    }));
  }

  async markDisconnected(realmId: string): Promise<DisconnectResult> {
    const connection = this.connections.get(realmId);
    if (connection === undefined) return { kind: 'not-found' };
    const { tokens, ...rest } = withoutLease(connection);
    this.connections.set(realmId, {
      ...rest,
      status: 'DISCONNECTED',
      reconnectReason: 'disconnected',
      version: connection.version + 1,
    });
    return { kind: 'disconnected', ...(tokens !== undefined ? { removedTokens: tokens } : {}) };
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
