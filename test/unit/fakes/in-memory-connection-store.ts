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
import { InvalidCursorError } from '../../../lambdas/core/errors';
import { KEEP_ALIVE_MARGIN_MS } from '../../../lambdas/core/token-budget';
import type { ConnectionWrite } from '../../../lambdas/core/flow-ledger';

export class InMemoryConnectionStore implements ConnectionStore {
  readonly connections = new Map<string, Connection>();
  /** When each company's disconnect check last ran (the adapter keeps it on the item). */
  private readonly disconnectChecks = new Map<string, number>();

  /** What the ledger's recordConnection does to the connection item, without the code part. */
  putVerified(connection: NewConnection): ConnectionWrite {
    const existing = this.connections.get(connection.realmId);
    // B7 first: a company bound to another tenant is refused whatever the grants' order.
    if (existing?.tenantId !== undefined && existing.tenantId !== connection.tenantId)
      return 'bound-to-other-tenant';
    if (existing !== undefined && existing.grantedAt >= connection.grantedAt) return 'superseded';
    // A grant without a tenant keeps the tenant the company had (the adapter sets it only when given).
    const tenantId = connection.tenantId ?? existing?.tenantId;
    this.connections.set(connection.realmId, {
      realmId: connection.realmId,
      status: 'ACTIVE',
      version: (existing?.version ?? 0) + 1,
      grantedAt: connection.grantedAt,
      connectedAt: existing?.connectedAt ?? connection.grantedAt,
      qboEnvironment: connection.qboEnvironment,
      companyName: connection.companyName,
      ...(tenantId !== undefined ? { tenantId } : {}),
      tokens: tokensOf(connection),
      tokenExpiry: expiryOf(connection),
    });
    return 'stored';
  }

  async get(realmId: string, options: { readonly tokens?: boolean } = {}): Promise<Connection | undefined> {
    const connection = this.connections.get(realmId);
    if (connection === undefined || options.tokens !== false) return connection;
    return without(connection, 'tokens');
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
      ...without(c, 'refreshLease', 'refreshFailures', 'refreshRetryAt', 'legacy'),
      tokens: tokensOf(tokens),
      tokenExpiry: expiryOf(tokens),
      lastRefreshedAt: refreshedAt,
    }));
  }

  async markReconnectRequired(
    realmId: string,
    expectedVersion: number,
    reason: ReconnectReason,
  ): Promise<FencedWrite> {
    return this.fenced(realmId, expectedVersion, (c) => ({
      ...withoutTokens(c),
      status: 'RECONNECT_REQUIRED',
      reconnectReason: reason,
    }));
  }

  async markDisconnected(realmId: string, now: number): Promise<DisconnectResult> {
    const connection = this.connections.get(realmId);
    if (connection === undefined) return { kind: 'not-found' };
    const tokens = connection.tokens;
    // DELETE also releases the company's tenant binding, so another tenant may connect it.
    this.connections.set(realmId, {
      ...without(withoutTokens(connection), 'tenantId'),
      status: 'DISCONNECTED',
      reconnectReason: 'disconnected',
      disconnectedAt: now,
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
    this.connections.set(connection.realmId, without(stored, 'legacy'));
    return 'stored';
  }

  async listByTenant(
    tenantId: string,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<Connection>> {
    const all = [...this.connections.values()]
      .filter((c) => c.tenantId === tenantId)
      .sort((a, b) => compareKeys([a.realmId], [b.realmId]));
    return this.page(all, options, (c) => [c.realmId], tenantIndexProjection);
  }

  async listDueForRefresh(
    dueBy: number,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<string>> {
    const due = [...this.connections.values()]
      .filter((c) => c.status === 'ACTIVE' && c.tokenExpiry !== undefined)
      .map((c) => ({
        realmId: c.realmId,
        dueAt: Math.max(
          c.refreshRetryAt ?? 0,
          (c.tokenExpiry?.refreshTokenExpiresAt ?? 0) - KEEP_ALIVE_MARGIN_MS,
        ),
      }))
      .filter((c) => c.dueAt <= dueBy)
      .sort((a, b) => compareKeys([a.dueAt, a.realmId], [b.dueAt, b.realmId]));
    return this.page(
      due,
      options,
      (c) => [c.dueAt, c.realmId],
      (c) => c.realmId,
    );
  }

  async claimDisconnectCheck(realmId: string, now: number, minIntervalMs: number): Promise<boolean> {
    const connection = this.connections.get(realmId);
    if (connection?.status !== 'ACTIVE') return false;
    const checked = this.disconnectChecks.get(realmId);
    if (checked !== undefined && checked > now - minIntervalMs) return false;
    this.disconnectChecks.set(realmId, now);
    return true;
  }

  async confirmDisconnected(realmId: string, expectedVersion: number, now: number): Promise<FencedWrite> {
    return this.fenced(realmId, expectedVersion, (c) => ({
      ...withoutTokens(c),
      status: 'DISCONNECTED',
      reconnectReason: 'disconnected',
      disconnectedAt: now,
    }));
  }

  async listNearHardExpiry(
    before: number,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<{ readonly realmId: string; readonly hardExpiresAt: number }>> {
    const near = [...this.connections.values()]
      .filter(
        (c) => c.status === 'ACTIVE' && (c.tokenExpiry?.refreshTokenHardExpiresAt ?? Infinity) <= before,
      )
      .map((c) => ({ realmId: c.realmId, hardExpiresAt: c.tokenExpiry?.refreshTokenHardExpiresAt ?? 0 }))
      .sort((a, b) => a.hardExpiresAt - b.hardExpiresAt || a.realmId.localeCompare(b.realmId));
    const start = options.cursor === undefined ? 0 : Number(options.cursor);
    const items = near.slice(start, start + options.limit);
    return {
      items,
      ...(start + options.limit < near.length ? { cursor: String(start + options.limit) } : {}),
    };
  }

  async markNearHardExpiryNotified(realmId: string, hardExpiresAt: number): Promise<boolean> {
    const connection = this.connections.get(realmId);
    if (
      connection?.status !== 'ACTIVE' ||
      connection.tokenExpiry?.refreshTokenHardExpiresAt !== hardExpiresAt ||
      connection.nearHardExpiryNotifiedFor === hardExpiresAt
    )
      return false;
    this.connections.set(realmId, { ...connection, nearHardExpiryNotifiedFor: hardExpiresAt });
    return true;
  }

  async countReconnectRequired(): Promise<number> {
    return [...this.connections.values()].filter((c) => c.status === 'RECONNECT_REQUIRED').length;
  }

  async countNearHardExpiry(before: number): Promise<number> {
    return [...this.connections.values()].filter(
      (c) => c.status === 'ACTIVE' && (c.tokenExpiry?.refreshTokenHardExpiresAt ?? Infinity) <= before,
    ).length;
  }

  /**
   * Paged as DynamoDB pages a Query with a Limit: the cursor is the last item's index key (so
   * items that leave the index between pages shift nothing), a full page carries a cursor even
   * when nothing follows (DynamoDB stops at the limit without looking further), and a cursor this
   * store did not issue is refused. `all` is sorted by `key`.
   */
  private page<T, R>(
    all: readonly T[],
    options: { readonly limit: number; readonly cursor?: string },
    key: (item: T) => IndexKey,
    map: (item: T) => R,
  ): Page<R> {
    const after = options.cursor === undefined ? undefined : keyOf(options.cursor);
    const rest = after === undefined ? all : all.filter((item) => compareKeys(key(item), after) > 0);
    const page = rest.slice(0, options.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(map),
      ...(last !== undefined && page.length === options.limit
        ? { cursor: Buffer.from(JSON.stringify(key(last))).toString('base64url') }
        : {}),
    };
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

/** An index's sort position: its sort key, then the table key (as DynamoDB orders ties). */
type IndexKey = readonly (string | number)[];

/** Numbers by value, strings by code unit (DynamoDB compares strings by their UTF-8 bytes). */
function compareKeys(a: IndexKey, b: IndexKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

function keyOf(cursor: string): IndexKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length === 0 ||
    !parsed.every((part) => typeof part === 'string' || typeof part === 'number')
  )
    throw new InvalidCursorError();
  return parsed;
}

/** What the tenant index projects: metadata and expiry times; no tokens, lease or backoff. */
function tenantIndexProjection(c: Connection): Connection {
  return {
    realmId: c.realmId,
    status: c.status,
    version: c.version,
    grantedAt: c.grantedAt,
    connectedAt: c.connectedAt,
    qboEnvironment: c.qboEnvironment,
    ...(c.companyName !== undefined ? { companyName: c.companyName } : {}),
    ...(c.tenantId !== undefined ? { tenantId: c.tenantId } : {}),
    ...(c.tokenExpiry !== undefined ? { tokenExpiry: c.tokenExpiry } : {}),
    ...(c.lastRefreshedAt !== undefined ? { lastRefreshedAt: c.lastRefreshedAt } : {}),
    ...(c.reconnectReason !== undefined ? { reconnectReason: c.reconnectReason } : {}),
  };
}

/** A connection that stops holding tokens loses them, their times, its lease and its backoff. */
function withoutTokens(connection: Connection): Connection {
  return without(connection, 'tokens', 'tokenExpiry', 'refreshLease', 'refreshFailures', 'refreshRetryAt');
}

function withoutLease(connection: Connection): Connection {
  return without(connection, 'refreshLease');
}

/** A copy without the optional attributes named (as an UpdateItem's REMOVE). */
function without(connection: Connection, ...names: readonly (keyof Connection)[]): Connection {
  const copy: Partial<Record<keyof Connection, unknown>> = { ...connection };
  for (const name of names) delete copy[name];
  return copy as Connection;
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
