/** A local stack for one test file: its own tables and emulator, on the run's DynamoDB Local. */
import { createHash, randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack, LocalStackOptions } from '../../local/server';
import { startLocalStack } from '../../local/server';
import { LOCAL_AWS } from '../../local/dynamodb-local';

/** Recognisable credentials for the log canary (F1). */
export const CANARY_CLIENT = {
  clientId: 'ABcanaryCLIENTid0123456789',
  clientSecret: 'CANARYsecretVALUEdo-not-log-0123456789',
} as const;

export interface TestStack extends LocalStack {
  readonly emulator: NonNullable<LocalStack['emulator']>;
  connection(realmId: string): Promise<Record<string, unknown> | undefined>;
  flowItem(key: string): Promise<Record<string, unknown> | undefined>;
  allConnections(): Promise<Array<Record<string, unknown>>>;
  /** The item as stored, plus its sealed tokens opened (`accessToken`, `refreshToken`), for assertions. */
  openedConnection(realmId: string): Promise<Record<string, unknown> | undefined>;
  openedConnections(): Promise<Array<Record<string, unknown>>>;
  allFlowItems(): Promise<Array<Record<string, unknown>>>;
  /**
   * Moves a started flow's expiry into the past, as if its lifetime had run out while the user
   * lingered; the item stays, as it would until TTL cleans it up (invariant 3).
   */
  expireFlow(state: string): Promise<void>;
}

export async function startTestStack(
  options: Partial<Omit<LocalStackOptions, 'env'>> & { env?: Record<string, string> } = {},
): Promise<TestStack> {
  const endpoint = process.env['DYNAMODB_ENDPOINT'];
  if (endpoint === undefined)
    throw new Error('DYNAMODB_ENDPOINT is not set: jest globalSetup starts DynamoDB Local');
  const stack = await startLocalStack({
    port: 0,
    tablePrefix: `t-${randomBytes(4).toString('hex')}`,
    emulatorCredentials: CANARY_CLIENT,
    ...options,
    env: { DYNAMODB_ENDPOINT: endpoint, ...options.env },
  });
  const emulator = stack.emulator;
  if (emulator === undefined) throw new Error('test stacks run against the emulator');
  const raw = new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.dynamoDbEndpoint, maxAttempts: 1 });
  const documents = DynamoDBDocumentClient.from(raw);
  const opened = async (item: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const tokens = (await stack.connections().get(String(item['realmId'])))?.tokens;
    return tokens === undefined
      ? item
      : { ...item, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
  };
  return {
    ...stack,
    emulator,
    async connection(realmId) {
      const out = await documents.send(
        new GetCommand({ TableName: stack.tables.connection, Key: { realmId } }),
      );
      return out.Item;
    },
    async flowItem(key) {
      const out = await documents.send(new GetCommand({ TableName: stack.tables.flow, Key: { pk: key } }));
      return out.Item;
    },
    async expireFlow(state) {
      const pk = `STATE#${createHash('sha256').update(state, 'utf8').digest('hex')}`;
      await documents.send(
        new UpdateCommand({
          TableName: stack.tables.flow,
          Key: { pk },
          ConditionExpression: 'attribute_exists(pk)',
          UpdateExpression: 'SET expiresAt = :past',
          ExpressionAttributeValues: { ':past': Date.now() - 1 },
        }),
      );
    },
    async allConnections() {
      const out = await documents.send(new ScanCommand({ TableName: stack.tables.connection }));
      return out.Items ?? [];
    },
    async openedConnection(realmId) {
      const out = await documents.send(
        new GetCommand({ TableName: stack.tables.connection, Key: { realmId } }),
      );
      return out.Item === undefined ? undefined : opened(out.Item);
    },
    async openedConnections() {
      const out = await documents.send(new ScanCommand({ TableName: stack.tables.connection }));
      return Promise.all((out.Items ?? []).map(opened));
    },
    async allFlowItems() {
      const out = await documents.send(new ScanCommand({ TableName: stack.tables.flow }));
      return out.Items ?? [];
    },
    async close() {
      await stack.close();
      for (const table of [stack.tables.flow, stack.tables.connection]) {
        await raw.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
      }
      raw.destroy();
    },
  };
}
