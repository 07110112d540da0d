/**
 * DynamoDB implementation of the ConnectionStore port. Every change is one conditional UpdateItem:
 * the lease checks status and expiry itself (TTL plays no part here), and every token write is
 * fenced on the version the caller read (D4, D5). Tokens are sealed by the TokenCipher before they
 * are written and opened after they are read (H3); listings and counts read indexes, never the table.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type {
  Connection,
  ConnectionStore,
  ConnectionTokens,
  DisconnectResult,
  FencedWrite,
  LeaseResult,
  Page,
  ReconnectReason,
} from '../core/connection-store';
import { InvalidCursorError } from '../core/errors';
import { CONNECTION_INDEXES, CONNECTION_TABLE, KEEP_ALIVE_SHARD } from '../core/table-schema';
import type { TokenCipher } from '../core/token-cipher';
import {
  fromConnectionItem,
  LEGACY_TOKEN_ATTRIBUTES,
  sealedTokensOf,
  secretsOf,
  TOKEN_ATTRIBUTES,
  tokenRemovals,
  tokenSets,
  tokenValues,
} from './connection-item';
import { storageError } from './dynamodb-errors';

const REALM = CONNECTION_TABLE.partitionKey;
/** Items written before `status` existed are ACTIVE while they hold a refresh token. */
const IS_ACTIVE =
  '(#status = :active OR (attribute_not_exists(#status) AND (attribute_exists(refreshToken) OR attribute_exists(sealedTokens))))';

export interface DynamoDbConnectionStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Seals tokens before a write and opens them after a read (H3). */
  readonly cipher: TokenCipher;
}

export class DynamoDbConnectionStore implements ConnectionStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly cipher: TokenCipher;

  constructor(options: DynamoDbConnectionStoreOptions) {
    this.client = options.client;
    this.table = options.tableName;
    this.cipher = options.cipher;
  }

  async get(realmId: string, options: { readonly tokens?: boolean } = {}): Promise<Connection | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const result = await this.client.send(
        new GetCommand({ TableName: this.table, Key: { [REALM]: realmId }, ConsistentRead: true }),
      );
      item = result.Item;
    } catch (error) {
      throw storageError('getConnection', error);
    }
    if (item === undefined) return undefined;
    return options.tokens === false ? fromConnectionItem(item) : this.open(item);
  }

  async takeRefreshLease(realmId: string, holder: string, now: number, until: number): Promise<LeaseResult> {
    let attributes: Record<string, unknown>;
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: realmId },
          ConditionExpression: `attribute_exists(#realm) AND ${IS_ACTIVE} AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now)`,
          UpdateExpression: 'SET leaseHolder = :holder, leaseUntil = :until',
          ExpressionAttributeNames: { '#realm': REALM, '#status': 'status' },
          ExpressionAttributeValues: { ':active': 'ACTIVE', ':now': now, ':holder': holder, ':until': until },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      attributes = result.Attributes ?? {};
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storageError('takeRefreshLease', error);
      if (error.Item === undefined) return { kind: 'not-active' };
      const connection = fromConnectionItem(unmarshall(error.Item));
      if (connection.status !== 'ACTIVE' || connection.refreshLease === undefined)
        return { kind: 'not-active', connection };
      return { kind: 'held', lease: connection.refreshLease };
    }
    try {
      return { kind: 'taken', connection: await this.open(attributes) };
    } catch (error) {
      // Nothing to refresh with: give the lease back before the caller reports the failure.
      await this.releaseRefreshLease(realmId, holder).catch(() => undefined);
      throw error;
    }
  }

  async releaseRefreshLease(realmId: string, holder: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: realmId },
          ConditionExpression: 'leaseHolder = :holder',
          UpdateExpression: 'REMOVE leaseHolder, leaseUntil',
          ExpressionAttributeValues: { ':holder': holder },
        }),
      );
    } catch (error) {
      // Someone else's lease by now, or none: nothing of ours to give back.
      if (error instanceof ConditionalCheckFailedException) return;
      throw storageError('releaseRefreshLease', error);
    }
  }

  async storeRefreshedTokens(
    realmId: string,
    expectedVersion: number,
    tokens: ConnectionTokens,
    refreshedAt: number,
  ): Promise<FencedWrite> {
    const sealed = await this.cipher.encrypt(realmId, secretsOf(tokens));
    const remove = ['leaseHolder', 'leaseUntil', ...tokenRemovals(tokens)];
    return this.fenced('storeRefreshedTokens', realmId, expectedVersion, {
      UpdateExpression: `SET ${[...tokenSets(tokens), 'lastRefreshedAt = :refreshedAt', '#version = #version + :one'].join(', ')} REMOVE ${remove.join(', ')}`,
      ExpressionAttributeValues: { ...tokenValues(tokens, sealed), ':refreshedAt': refreshedAt },
    });
  }

  async markReconnectRequired(
    realmId: string,
    expectedVersion: number,
    reason: ReconnectReason,
  ): Promise<FencedWrite> {
    // The tokens are dead: they leave the item, and with them its place in the keep-alive indexes.
    return this.fenced('markReconnectRequired', realmId, expectedVersion, {
      UpdateExpression: `SET #status = :reconnect, reconnectReason = :reason, #version = #version + :one REMOVE ${[...TOKEN_ATTRIBUTES, 'leaseHolder', 'leaseUntil', 'tenantId'].join(', ')}`,
      ExpressionAttributeValues: { ':reconnect': 'RECONNECT_REQUIRED', ':reason': reason },
    });
  }

  /** Also releases the company's tenant binding (B7): another tenant may connect it afterwards. */
  async markDisconnected(realmId: string, now: number): Promise<DisconnectResult> {
    let before: Record<string, unknown>;
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: realmId },
          ConditionExpression: 'attribute_exists(#realm)',
          UpdateExpression: `SET #status = :disconnected, reconnectReason = :reason, disconnectedAt = :now, #version = if_not_exists(#version, :zero) + :one REMOVE ${[...TOKEN_ATTRIBUTES, 'leaseHolder', 'leaseUntil', 'tenantId'].join(', ')}`,
          ExpressionAttributeNames: { '#realm': REALM, '#status': 'status', '#version': 'version' },
          ExpressionAttributeValues: {
            ':disconnected': 'DISCONNECTED',
            ':reason': 'disconnected' satisfies ReconnectReason,
            ':now': now,
            ':zero': 0,
            ':one': 1,
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      before = result.Attributes ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'not-found' };
      throw storageError('markDisconnected', error);
    }
    // The deletion stands whatever happens next; tokens that cannot be opened are simply not revoked.
    const removed = await this.open(before).catch(() => undefined);
    return {
      kind: 'disconnected',
      ...(removed?.tokens !== undefined ? { removedTokens: removed.tokens } : {}),
    };
  }

  async recordRefreshFailure(
    realmId: string,
    holder: string,
    failures: number,
    retryAt: number,
  ): Promise<void> {
    const update = (moveDue: boolean) =>
      new UpdateCommand({
        TableName: this.table,
        Key: { [REALM]: realmId },
        // The refresher finds it again when the backoff ends, never earlier than it was due anyway:
        // a request's failed refresh must not put a connection that is not due in every run.
        ConditionExpression: moveDue
          ? 'leaseHolder = :holder AND (attribute_not_exists(refreshDueAt) OR refreshDueAt < :retryAt)'
          : 'leaseHolder = :holder',
        UpdateExpression: `SET refreshFailures = :failures, refreshRetryAt = :retryAt${moveDue ? ', refreshDueAt = :retryAt' : ''} REMOVE leaseHolder, leaseUntil`,
        ExpressionAttributeValues: { ':holder': holder, ':failures': failures, ':retryAt': retryAt },
      });
    try {
      await this.client.send(update(true));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException))
        throw storageError('recordRefreshFailure', error);
      // Not the holder, or due later than the backoff: then record the backoff alone.
      try {
        await this.client.send(update(false));
      } catch (retryError) {
        if (retryError instanceof ConditionalCheckFailedException) return;
        throw storageError('recordRefreshFailure', retryError);
      }
    }
  }

  async migrateLegacy(connection: Connection): Promise<FencedWrite> {
    if (connection.legacy !== true || connection.tokens === undefined) return 'superseded';
    const sealed = await this.cipher.encrypt(connection.realmId, secretsOf(connection.tokens));
    const active = connection.status === 'ACTIVE';
    const values: Record<string, unknown> = {
      ...tokenValues(connection.tokens, sealed),
      ':active': 'ACTIVE',
      ':grantedAt': connection.grantedAt,
    };
    // Only an active connection belongs in the keep-alive indexes.
    const sets = tokenSets(connection.tokens).filter(
      (clause) => active || !/^(keepAliveShard|refreshDueAt) /.test(clause),
    );
    if (!active) {
      delete values[':keepAliveShard'];
      delete values[':refreshDueAt'];
    }
    const versionCondition =
      connection.version === 0 ? 'attribute_not_exists(#version)' : '#version = :expected';
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: connection.realmId },
          ConditionExpression: `attribute_exists(accessToken) AND ${versionCondition}`,
          // The version stays: a refresh fenced on it must still land (it would rewrite the tokens anyway).
          UpdateExpression: `SET ${[
            ...sets,
            '#status = if_not_exists(#status, :active)',
            'grantedAt = if_not_exists(grantedAt, :grantedAt)',
            'connectedAt = if_not_exists(connectedAt, :grantedAt)',
          ].join(', ')} REMOVE ${LEGACY_TOKEN_ATTRIBUTES.join(', ')}`,
          ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
          ExpressionAttributeValues:
            connection.version === 0 ? values : { ...values, ':expected': connection.version },
        }),
      );
      return 'stored';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'superseded';
      throw storageError('migrateLegacy', error);
    }
  }

  async listByTenant(
    tenantId: string,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<Connection>> {
    const index = CONNECTION_INDEXES.byTenant;
    const page = await this.query('listByTenant', {
      IndexName: index.name,
      KeyConditionExpression: '#tenant = :tenant',
      ExpressionAttributeNames: { '#tenant': index.partitionKey.name },
      ExpressionAttributeValues: { ':tenant': tenantId },
      Limit: options.limit,
      ...startKey(options.cursor),
    });
    return { items: page.items.map((item) => fromConnectionItem(item)), ...cursorOf(page.lastKey) };
  }

  async listDueForRefresh(
    dueBy: number,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<string>> {
    const index = CONNECTION_INDEXES.refreshDue;
    const page = await this.query('listDueForRefresh', {
      IndexName: index.name,
      KeyConditionExpression: '#shard = :shard AND #due <= :dueBy',
      ExpressionAttributeNames: { '#shard': index.partitionKey.name, '#due': index.sortKey.name },
      ExpressionAttributeValues: { ':shard': KEEP_ALIVE_SHARD, ':dueBy': dueBy },
      Limit: options.limit,
      ...startKey(options.cursor),
    });
    return { items: page.items.map((item) => String(item[REALM])), ...cursorOf(page.lastKey) };
  }

  async claimDisconnectCheck(realmId: string, now: number, minIntervalMs: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: realmId },
          ConditionExpression: `attribute_exists(#realm) AND ${IS_ACTIVE} AND (attribute_not_exists(disconnectCheckedAt) OR disconnectCheckedAt <= :since)`,
          UpdateExpression: 'SET disconnectCheckedAt = :now',
          ExpressionAttributeNames: { '#realm': REALM, '#status': 'status' },
          ExpressionAttributeValues: { ':active': 'ACTIVE', ':now': now, ':since': now - minIntervalMs },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storageError('claimDisconnectCheck', error);
    }
  }

  async confirmDisconnected(realmId: string, expectedVersion: number, now: number): Promise<FencedWrite> {
    return this.fenced('confirmDisconnected', realmId, expectedVersion, {
      UpdateExpression: `SET #status = :disconnected, reconnectReason = :reason, disconnectedAt = :now, #version = #version + :one REMOVE ${[...TOKEN_ATTRIBUTES, 'leaseHolder', 'leaseUntil'].join(', ')}`,
      ExpressionAttributeValues: {
        ':disconnected': 'DISCONNECTED',
        ':reason': 'disconnected' satisfies ReconnectReason,
        ':now': now,
      },
    });
  }

  async countReconnectRequired(): Promise<number> {
    const index = CONNECTION_INDEXES.byStatus;
    return this.count('countReconnectRequired', {
      IndexName: index.name,
      KeyConditionExpression: '#status = :status',
      ExpressionAttributeNames: { '#status': index.partitionKey.name },
      ExpressionAttributeValues: { ':status': 'RECONNECT_REQUIRED' },
    });
  }

  async countNearHardExpiry(before: number): Promise<number> {
    const index = CONNECTION_INDEXES.hardExpiry;
    return this.count('countNearHardExpiry', {
      IndexName: index.name,
      KeyConditionExpression: '#shard = :shard AND #hard <= :before',
      ExpressionAttributeNames: { '#shard': index.partitionKey.name, '#hard': index.sortKey.name },
      ExpressionAttributeValues: { ':shard': KEEP_ALIVE_SHARD, ':before': before },
    });
  }

  async listNearHardExpiry(
    before: number,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<Page<{ readonly realmId: string; readonly hardExpiresAt: number }>> {
    const index = CONNECTION_INDEXES.hardExpiry;
    const page = await this.query('listNearHardExpiry', {
      IndexName: index.name,
      KeyConditionExpression: '#shard = :shard AND #hard <= :before',
      ExpressionAttributeNames: { '#shard': index.partitionKey.name, '#hard': index.sortKey.name },
      ExpressionAttributeValues: { ':shard': KEEP_ALIVE_SHARD, ':before': before },
      Limit: options.limit,
      ...startKey(options.cursor),
    });
    return {
      items: page.items.map((item) => ({
        realmId: String(item[REALM]),
        hardExpiresAt: Number(item[index.sortKey.name]),
      })),
      ...cursorOf(page.lastKey),
    };
  }

  async markNearHardExpiryNotified(realmId: string, hardExpiresAt: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: realmId },
          // Not a token write: the version stays, so no refresh in flight is fenced out by it.
          ConditionExpression: `${IS_ACTIVE} AND refreshTokenHardExpiresAt = :hard AND (attribute_not_exists(nearHardExpiryNotifiedFor) OR nearHardExpiryNotifiedFor <> :hard)`,
          UpdateExpression: 'SET nearHardExpiryNotifiedFor = :hard',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':active': 'ACTIVE', ':hard': hardExpiresAt },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storageError('markNearHardExpiryNotified', error);
    }
  }

  /** The item as a Connection with its tokens opened (sealed) or as stored (legacy plaintext). */
  private async open(item: Record<string, unknown>): Promise<Connection> {
    const sealed = sealedTokensOf(item);
    if (sealed === undefined) return fromConnectionItem(item);
    return fromConnectionItem(item, await this.cipher.decrypt(String(item[REALM]), sealed));
  }

  private async query(
    operation: string,
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>,
  ): Promise<{ items: Record<string, unknown>[]; lastKey?: Record<string, unknown> }> {
    try {
      const result = await this.client.send(new QueryCommand({ TableName: this.table, ...input }));
      return {
        items: result.Items ?? [],
        ...(result.LastEvaluatedKey !== undefined ? { lastKey: result.LastEvaluatedKey } : {}),
      };
    } catch (error) {
      // A cursor DynamoDB refuses (the wrong key shape for this index) is the caller's mistake.
      if (
        input.ExclusiveStartKey !== undefined &&
        error instanceof Error &&
        error.name === 'ValidationException'
      )
        throw new InvalidCursorError();
      throw storageError(operation, error);
    }
  }

  /** A count from an index: DynamoDB counts the matching keys, page by page; nothing is returned. */
  private async count(
    operation: string,
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName' | 'Select'>,
  ): Promise<number> {
    let total = 0;
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      try {
        const result = await this.client.send(
          new QueryCommand({
            TableName: this.table,
            ...input,
            Select: 'COUNT',
            ...(exclusiveStartKey !== undefined ? { ExclusiveStartKey: exclusiveStartKey } : {}),
          }),
        );
        total += result.Count ?? 0;
        exclusiveStartKey = result.LastEvaluatedKey;
      } catch (error) {
        throw storageError(operation, error);
      }
    } while (exclusiveStartKey !== undefined);
    return total;
  }

  /** An update that lands only on the version the caller read (the fence). */
  private async fenced(
    operation: string,
    realmId: string,
    expectedVersion: number,
    update: { UpdateExpression: string; ExpressionAttributeValues: Record<string, unknown> },
  ): Promise<FencedWrite> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: realmId },
          ConditionExpression: 'attribute_exists(#realm) AND #version = :expected',
          UpdateExpression: update.UpdateExpression,
          // DynamoDB refuses names an expression does not use.
          ExpressionAttributeNames: {
            '#realm': REALM,
            '#version': 'version',
            ...(update.UpdateExpression.includes('#status') ? { '#status': 'status' } : {}),
          },
          ExpressionAttributeValues: {
            ...update.ExpressionAttributeValues,
            ':expected': expectedVersion,
            ':one': 1,
          },
        }),
      );
      return 'stored';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'superseded';
      throw storageError(operation, error);
    }
  }
}

/**
 * Listing cursors are DynamoDB's LastEvaluatedKey as base64url JSON: opaque to the app, checked on
 * the way back in (an object of string keys only), so a forged cursor is a 400, never a query error.
 */
function cursorOf(lastKey: Record<string, unknown> | undefined): { cursor?: string } {
  return lastKey === undefined ? {} : { cursor: Buffer.from(JSON.stringify(lastKey)).toString('base64url') };
}

function startKey(cursor: string | undefined): { ExclusiveStartKey?: Record<string, unknown> } {
  if (cursor === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    Object.keys(parsed).length === 0 ||
    Object.keys(parsed).length > 4 ||
    !Object.values(parsed).every((value) => typeof value === 'string' || typeof value === 'number')
  )
    throw new InvalidCursorError();
  return { ExclusiveStartKey: parsed as Record<string, unknown> };
}
