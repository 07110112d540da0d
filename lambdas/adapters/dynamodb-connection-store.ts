/**
 * DynamoDB implementation of the ConnectionStore port. Every change is one conditional UpdateItem:
 * the lease checks status and expiry itself (TTL plays no part here), and every token write is
 * fenced on the version the caller read (D4, D5).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type {
  ConnectionStore,
  Connection,
  ConnectionTokens,
  DisconnectResult,
  FencedWrite,
  LeaseResult,
  ReconnectReason,
} from '../core/connection-store';
import { CONNECTION_TABLE } from '../core/table-schema';
import {
  fromConnectionItem,
  TOKEN_ATTRIBUTES,
  tokenRemovals,
  tokenSets,
  tokenValues,
} from './connection-item';
import { storageError } from './dynamodb-errors';

const REALM = CONNECTION_TABLE.partitionKey;
/** Items written before `status` existed are ACTIVE while they hold a refresh token. */
const IS_ACTIVE = '(#status = :active OR (attribute_not_exists(#status) AND attribute_exists(refreshToken)))';

export interface DynamoDbConnectionStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

export class DynamoDbConnectionStore implements ConnectionStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoDbConnectionStoreOptions) {
    this.client = options.client;
    this.table = options.tableName;
  }

  async get(realmId: string): Promise<Connection | undefined> {
    try {
      const result = await this.client.send(
        new GetCommand({ TableName: this.table, Key: { [REALM]: realmId }, ConsistentRead: true }),
      );
      return result.Item === undefined ? undefined : fromConnectionItem(result.Item);
    } catch (error) {
      throw storageError('getConnection', error);
    }
  }

  async takeRefreshLease(realmId: string, holder: string, now: number, until: number): Promise<LeaseResult> {
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
      return { kind: 'taken', connection: fromConnectionItem(result.Attributes ?? {}) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storageError('takeRefreshLease', error);
      if (error.Item === undefined) return { kind: 'not-active' };
      const connection = fromConnectionItem(unmarshall(error.Item));
      if (connection.status !== 'ACTIVE' || connection.refreshLease === undefined)
        return { kind: 'not-active', connection };
      return { kind: 'held', lease: connection.refreshLease };
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
    const remove = ['leaseHolder', 'leaseUntil', ...tokenRemovals(tokens)];
    return this.fenced('storeRefreshedTokens', realmId, expectedVersion, {
      UpdateExpression: `SET ${[...tokenSets(tokens), 'lastRefreshedAt = :refreshedAt', '#version = #version + :one'].join(', ')} REMOVE ${remove.join(', ')}`,
      ExpressionAttributeValues: { ...tokenValues(tokens), ':refreshedAt': refreshedAt },
    });
  }

  async markReconnectRequired(
    realmId: string,
    expectedVersion: number,
    reason: ReconnectReason,
  ): Promise<FencedWrite> {
    return this.fenced('markReconnectRequired', realmId, expectedVersion, {
      UpdateExpression:
        'SET #status = :reconnect, reconnectReason = :reason, #version = #version + :one REMOVE leaseHolder, leaseUntil',
      ExpressionAttributeValues: { ':reconnect': 'RECONNECT_REQUIRED', ':reason': reason },
    });
  }

  async markDisconnected(realmId: string, now: number): Promise<DisconnectResult> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [REALM]: realmId },
          ConditionExpression: 'attribute_exists(#realm)',
          UpdateExpression: `SET #status = :disconnected, reconnectReason = :reason, disconnectedAt = :now, #version = if_not_exists(#version, :zero) + :one REMOVE ${[...TOKEN_ATTRIBUTES, 'leaseHolder', 'leaseUntil'].join(', ')}`,
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
      const before = fromConnectionItem(result.Attributes ?? {});
      return {
        kind: 'disconnected',
        ...(before.tokens !== undefined ? { removedTokens: before.tokens } : {}),
      };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'not-found' };
      throw storageError('markDisconnected', error);
    }
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
