/**
 * How a connection is laid out in its DynamoDB item: one mapping shared by the ledger's transaction
 * (which stores a verified connection and marks its code CONNECTED) and the connection store, so
 * the two can never write different shapes.
 */
import type {
  Connection,
  ConnectionStatus,
  ConnectionTokens,
  NewConnection,
  ReconnectReason,
} from '../core/connection-store';
import { CONNECTION_TABLE } from '../core/table-schema';

const REALM = CONNECTION_TABLE.partitionKey;

/** Attributes of a token set; removed together when a connection is disconnected. */
export const TOKEN_ATTRIBUTES = [
  'accessToken',
  'refreshToken',
  'accessTokenExpiresAt',
  'refreshTokenExpiresAt',
  'refreshTokenHardExpiresAt',
] as const;

/** What an UpdateItem needs, without the table and key. */
export interface ItemUpdate {
  readonly UpdateExpression: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/**
 * D5: stores a verified connection unless a newer grant is stored already. Items written before
 * `grantedAt` existed carried their grant time in `version`; they are compared on it once, and the
 * write gives them both fields.
 */
export function newConnectionUpdate(connection: NewConnection): ItemUpdate {
  const values: Record<string, unknown> = {
    ':active': 'ACTIVE' satisfies ConnectionStatus,
    ':grantedAt': connection.grantedAt,
    ':qboEnvironment': connection.qboEnvironment,
    ':companyName': connection.companyName,
    ':zero': 0,
    ':one': 1,
    ...tokenValues(connection),
  };
  const set = [
    '#status = :active',
    'grantedAt = :grantedAt',
    'connectedAt = if_not_exists(connectedAt, :grantedAt)',
    'qboEnvironment = :qboEnvironment',
    'companyName = :companyName',
    ...tokenSets(connection),
    '#version = if_not_exists(#version, :zero) + :one',
  ];
  const remove = [
    'reconnectReason',
    'leaseHolder',
    'leaseUntil',
    'lastRefreshedAt',
    ...tokenRemovals(connection),
  ];
  return {
    UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
    ConditionExpression:
      'attribute_not_exists(#realm) OR grantedAt < :grantedAt OR (attribute_not_exists(grantedAt) AND #version < :grantedAt)',
    ExpressionAttributeNames: { '#realm': REALM, '#status': 'status', '#version': 'version' },
    ExpressionAttributeValues: values,
  };
}

/** SET clauses for a token set (the hard expiry only when Intuit reported it). */
export function tokenSets(tokens: ConnectionTokens): string[] {
  return [
    'accessToken = :accessToken',
    'refreshToken = :refreshToken',
    'accessTokenExpiresAt = :accessTokenExpiresAt',
    'refreshTokenExpiresAt = :refreshTokenExpiresAt',
    ...(tokens.refreshTokenHardExpiresAt !== undefined
      ? ['refreshTokenHardExpiresAt = :refreshTokenHardExpiresAt']
      : []),
  ];
}

/** The hard expiry of an older grant must not outlive it. */
export function tokenRemovals(tokens: ConnectionTokens): string[] {
  return tokens.refreshTokenHardExpiresAt === undefined ? ['refreshTokenHardExpiresAt'] : [];
}

export function tokenValues(tokens: ConnectionTokens): Record<string, unknown> {
  return {
    ':accessToken': tokens.accessToken,
    ':refreshToken': tokens.refreshToken,
    ':accessTokenExpiresAt': tokens.accessTokenExpiresAt,
    ':refreshTokenExpiresAt': tokens.refreshTokenExpiresAt,
    ...(tokens.refreshTokenHardExpiresAt !== undefined
      ? { ':refreshTokenHardExpiresAt': tokens.refreshTokenHardExpiresAt }
      : {}),
  };
}

/** Reads an item, including those written before status, grantedAt and companyName existed. */
export function fromConnectionItem(item: Record<string, unknown>): Connection {
  const number = (name: string): number | undefined =>
    typeof item[name] === 'number' ? item[name] : undefined;
  const text = (name: string): string | undefined =>
    typeof item[name] === 'string' ? item[name] : undefined;
  const accessToken = text('accessToken');
  const refreshToken = text('refreshToken');
  const tokens: ConnectionTokens | undefined =
    accessToken !== undefined && refreshToken !== undefined
      ? {
          accessToken,
          refreshToken,
          accessTokenExpiresAt: number('accessTokenExpiresAt') ?? 0,
          refreshTokenExpiresAt: number('refreshTokenExpiresAt') ?? 0,
          ...optional('refreshTokenHardExpiresAt', number('refreshTokenHardExpiresAt')),
        }
      : undefined;
  const version = number('version') ?? 0;
  const grantedAt = number('grantedAt') ?? number('connectedAt') ?? version;
  const leaseHolder = text('leaseHolder');
  const leaseUntil = number('leaseUntil');
  const status =
    (text('status') as ConnectionStatus | undefined) ?? (tokens !== undefined ? 'ACTIVE' : 'DISCONNECTED');
  return {
    realmId: String(item[REALM]),
    status,
    version,
    grantedAt,
    connectedAt: number('connectedAt') ?? grantedAt,
    qboEnvironment: text('qboEnvironment') ?? 'sandbox',
    ...optional('companyName', text('companyName')),
    ...optional('tokens', tokens),
    ...optional('lastRefreshedAt', number('lastRefreshedAt')),
    ...optional('reconnectReason', text('reconnectReason') as ReconnectReason | undefined),
    ...(leaseHolder !== undefined && leaseUntil !== undefined
      ? { refreshLease: { holder: leaseHolder, until: leaseUntil } }
      : {}),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
