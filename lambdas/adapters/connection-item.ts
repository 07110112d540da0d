/**
 * How a connection is laid out in its DynamoDB item: one mapping shared by the ledger's transaction
 * (which stores a verified connection and marks its code CONNECTED) and the connection store, so
 * the two can never write different shapes (docs/design.md "Connections table").
 *
 * The tokens are one binary attribute, `sealedTokens`, encrypted in the application (H3); the
 * expiry times stay plain because the keep-alive indexes sort on them. Items stored before
 * encryption hold `accessToken` and `refreshToken` in plaintext: they are read as they are and
 * rewritten sealed on first touch (migrateLegacy) or by the operator's backfill.
 */
import type {
  Connection,
  ConnectionStatus,
  ConnectionTokens,
  NewConnection,
  ReconnectReason,
  TokenExpiry,
} from '../core/connection-store';
import { CONNECTION_TABLE, KEEP_ALIVE_SHARD } from '../core/table-schema';
import { KEEP_ALIVE_MARGIN_MS } from '../core/token-budget';
import type { TokenSecrets } from '../core/token-cipher';

const REALM = CONNECTION_TABLE.partitionKey;

/** The sealed token pair. */
export const SEALED_TOKENS = 'sealedTokens';
/** Plaintext token attributes of items stored before encryption (read, never written). */
export const LEGACY_TOKEN_ATTRIBUTES = ['accessToken', 'refreshToken'] as const;

/** Attributes of a token set; removed together when a connection stops holding tokens. */
export const TOKEN_ATTRIBUTES = [
  SEALED_TOKENS,
  ...LEGACY_TOKEN_ATTRIBUTES,
  'accessTokenExpiresAt',
  'refreshTokenExpiresAt',
  'refreshTokenHardExpiresAt',
  'keepAliveShard',
  'refreshDueAt',
  'refreshFailures',
  'refreshRetryAt',
] as const;

/** What an UpdateItem needs, without the table and key. */
export interface ItemUpdate {
  readonly UpdateExpression: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/**
 * When the refresher should refresh an idle connection: a month before its rolling refresh window
 * closes (never later than the window itself).
 */
export function refreshDueAt(expiry: TokenExpiry): number {
  return expiry.refreshTokenExpiresAt - KEEP_ALIVE_MARGIN_MS;
}

/**
 * D5: stores a verified connection unless a newer grant is stored already; B7: unless the company
 * is bound to another tenant. Items written before
 * `grantedAt` existed carried their grant time in `version`; they are compared on it once, and the
 * write gives them both fields.
 */
export function newConnectionUpdate(connection: NewConnection, sealed: Uint8Array): ItemUpdate {
  const values: Record<string, unknown> = {
    ':active': 'ACTIVE' satisfies ConnectionStatus,
    ':grantedAt': connection.grantedAt,
    ':qboEnvironment': connection.qboEnvironment,
    ':companyName': connection.companyName,
    ':zero': 0,
    ':one': 1,
    ...tokenValues(connection, sealed),
    ...(connection.tenantId !== undefined ? { ':tenantId': connection.tenantId } : {}),
  };
  const set = [
    '#status = :active',
    'grantedAt = :grantedAt',
    'connectedAt = if_not_exists(connectedAt, :grantedAt)',
    'qboEnvironment = :qboEnvironment',
    'companyName = :companyName',
    ...tokenSets(connection),
    ...(connection.tenantId !== undefined ? ['tenantId = :tenantId'] : []),
    '#version = if_not_exists(#version, :zero) + :one',
  ];
  const remove = [
    'reconnectReason',
    'disconnectedAt',
    'leaseHolder',
    'leaseUntil',
    'lastRefreshedAt',
    ...tokenRemovals(connection),
  ];
  return {
    UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
    // B7: a company bound to a tenant takes tokens only from a flow of that tenant; a flow without
    // a tenant (a plain /connect) cannot take over a bound company either.
    ConditionExpression: `(attribute_not_exists(#realm) OR grantedAt < :grantedAt OR (attribute_not_exists(grantedAt) AND #version < :grantedAt)) AND ${
      connection.tenantId !== undefined
        ? '(attribute_not_exists(tenantId) OR tenantId = :tenantId)'
        : 'attribute_not_exists(tenantId)'
    }`,
    ExpressionAttributeNames: { '#realm': REALM, '#status': 'status', '#version': 'version' },
    ExpressionAttributeValues: values,
  };
}

/** SET clauses for a sealed token set, its times and its place in the keep-alive indexes. */
export function tokenSets(expiry: TokenExpiry): string[] {
  return [
    `${SEALED_TOKENS} = :sealedTokens`,
    'accessTokenExpiresAt = :accessTokenExpiresAt',
    'refreshTokenExpiresAt = :refreshTokenExpiresAt',
    ...(expiry.refreshTokenHardExpiresAt !== undefined
      ? ['refreshTokenHardExpiresAt = :refreshTokenHardExpiresAt']
      : []),
    'keepAliveShard = :keepAliveShard',
    'refreshDueAt = :refreshDueAt',
  ];
}

/**
 * What a sealed token write removes: plaintext left by an item stored before encryption, the
 * backoff of earlier failed refreshes, and the hard expiry of an older grant that must not outlive it.
 */
export function tokenRemovals(expiry: TokenExpiry): string[] {
  return [
    ...LEGACY_TOKEN_ATTRIBUTES,
    'refreshFailures',
    'refreshRetryAt',
    ...(expiry.refreshTokenHardExpiresAt === undefined ? ['refreshTokenHardExpiresAt'] : []),
  ];
}

export function tokenValues(expiry: TokenExpiry, sealed: Uint8Array): Record<string, unknown> {
  return {
    ':sealedTokens': sealed,
    ':accessTokenExpiresAt': expiry.accessTokenExpiresAt,
    ':refreshTokenExpiresAt': expiry.refreshTokenExpiresAt,
    ...(expiry.refreshTokenHardExpiresAt !== undefined
      ? { ':refreshTokenHardExpiresAt': expiry.refreshTokenHardExpiresAt }
      : {}),
    ':keepAliveShard': KEEP_ALIVE_SHARD,
    ':refreshDueAt': refreshDueAt(expiry),
  };
}

/** The secret half of a token set, for the cipher. */
export function secretsOf(tokens: ConnectionTokens): TokenSecrets {
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
}

/** The sealed tokens of an item, if it has them. */
export function sealedTokensOf(item: Record<string, unknown>): Uint8Array | undefined {
  const value = item[SEALED_TOKENS];
  return value instanceof Uint8Array ? value : undefined;
}

/**
 * Reads an item, including those written before status, grantedAt, companyName or encryption
 * existed. `secrets` are the decrypted tokens, when the caller read them.
 */
export function fromConnectionItem(item: Record<string, unknown>, secrets?: TokenSecrets): Connection {
  const number = (name: string): number | undefined =>
    typeof item[name] === 'number' ? item[name] : undefined;
  const text = (name: string): string | undefined =>
    typeof item[name] === 'string' ? item[name] : undefined;
  const plainAccess = text('accessToken');
  const plainRefresh = text('refreshToken');
  const legacyPlaintext = plainAccess !== undefined && plainRefresh !== undefined;
  const hasTokens = sealedTokensOf(item) !== undefined || legacyPlaintext;
  // The times are written and removed with the tokens, and an index projection carries them
  // without the sealed tokens: their presence says tokens are stored.
  const tokenExpiry: TokenExpiry | undefined =
    number('accessTokenExpiresAt') !== undefined
      ? {
          accessTokenExpiresAt: number('accessTokenExpiresAt') ?? 0,
          refreshTokenExpiresAt: number('refreshTokenExpiresAt') ?? 0,
          ...optional('refreshTokenHardExpiresAt', number('refreshTokenHardExpiresAt')),
        }
      : undefined;
  const readSecrets: TokenSecrets | undefined =
    secrets ?? (legacyPlaintext ? { accessToken: plainAccess, refreshToken: plainRefresh } : undefined);
  const tokens: ConnectionTokens | undefined =
    tokenExpiry !== undefined && readSecrets !== undefined ? { ...readSecrets, ...tokenExpiry } : undefined;
  const version = number('version') ?? 0;
  const grantedAt = number('grantedAt') ?? number('connectedAt') ?? version;
  const leaseHolder = text('leaseHolder');
  const leaseUntil = number('leaseUntil');
  const status =
    (text('status') as ConnectionStatus | undefined) ??
    (hasTokens || tokenExpiry !== undefined ? 'ACTIVE' : 'DISCONNECTED');
  return {
    realmId: String(item[REALM]),
    status,
    version,
    grantedAt,
    connectedAt: number('connectedAt') ?? grantedAt,
    qboEnvironment: text('qboEnvironment') ?? 'sandbox',
    ...optional('companyName', text('companyName')),
    ...optional('tenantId', text('tenantId')),
    ...optional('tokenExpiry', tokenExpiry),
    ...optional('tokens', tokens),
    ...optional('lastRefreshedAt', number('lastRefreshedAt')),
    ...optional('disconnectedAt', number('disconnectedAt')),
    ...optional('reconnectReason', text('reconnectReason') as ReconnectReason | undefined),
    ...optional('refreshFailures', number('refreshFailures')),
    ...optional('refreshRetryAt', number('refreshRetryAt')),
    ...optional('nearHardExpiryNotifiedFor', number('nearHardExpiryNotifiedFor')),
    ...(leaseHolder !== undefined && leaseUntil !== undefined
      ? { refreshLease: { holder: leaseHolder, until: leaseUntil } }
      : {}),
    ...(legacyPlaintext ? { legacy: true } : {}),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * B7: whether a connection item that refused a write is bound to a tenant other than the writer's
 * (the condition's other half, D5, means "superseded").
 */
export function boundToOtherTenant(item: Record<string, unknown>, tenantId: string | undefined): boolean {
  const bound = item['tenantId'];
  return typeof bound === 'string' && bound !== tenantId;
}
