/**
 * Reads the connections table's stream on DynamoDB Local the way Lambda's event source mapping
 * reads it in AWS: every shard from its oldest record (TRIM_HORIZON), a parent shard before its
 * children, records in order, and a batch handed on until it succeeds: when the handler names a
 * failed record, the shard is read again from that record (AT_SEQUENCE_NUMBER) after a pause.
 * The checkpoint (the last record handled per shard) is kept in memory: a new process starts from
 * the oldest retained record again and publishes those events a second time, with the same
 * eventIds, which is the at-least-once delivery consumers dedupe anyway.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { _Record, Shard } from '@aws-sdk/client-dynamodb-streams';
import { LOCAL_AWS } from './dynamodb-local';

export interface ConnectionStreamReaderOptions {
  readonly endpoint: string;
  readonly tableName: string;
  /** Handles one batch in order; resolves the sequence number of the first record to read again, if any. */
  readonly onBatch: (records: readonly _Record[]) => Promise<string | undefined>;
  /** @default 250 */
  readonly pollIntervalMs?: number;
  /** Pause before a failed batch is read again. @default 1000 */
  readonly retryDelayMs?: number;
  /** A read that failed (DynamoDB Local restarting, a table deleted): the reader keeps polling. */
  readonly onError?: (error: unknown) => void;
}

export interface ConnectionStreamReader {
  /** Stops polling and waits for the batch in hand to finish. */
  close(): Promise<void>;
}

interface ShardPosition {
  readonly parentShardId?: string;
  iterator?: string | undefined;
  /** The last record handled. */
  checkpoint?: string | undefined;
  /** Read the shard again from this record (a failed batch). */
  retryFrom?: string | undefined;
  /** No more records will ever come (a closed shard read to its end). */
  done: boolean;
}

/** How many polls between two DescribeStream calls (new shards are rare; records are not). */
const DESCRIBE_EVERY_POLLS = 8;

export async function startConnectionStreamReader(
  options: ConnectionStreamReaderOptions,
): Promise<ConnectionStreamReader> {
  const dynamodb = new DynamoDBClient({ ...LOCAL_AWS, endpoint: options.endpoint });
  const streams = new DynamoDBStreamsClient({ ...LOCAL_AWS, endpoint: options.endpoint });
  const table = await dynamodb.send(new DescribeTableCommand({ TableName: options.tableName }));
  dynamodb.destroy();
  const streamArn = table.Table?.LatestStreamArn;
  if (streamArn === undefined) {
    streams.destroy();
    throw new Error(`table ${options.tableName} has no stream`);
  }
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const shards = new Map<string, ShardPosition>();
  let stopped = false;
  let polls = 0;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  const describe = async (): Promise<void> => {
    let start: string | undefined;
    do {
      const page = await streams.send(
        new DescribeStreamCommand({
          StreamArn: streamArn,
          ...(start !== undefined ? { ExclusiveStartShardId: start } : {}),
        }),
      );
      for (const shard of page.StreamDescription?.Shards ?? ([] as Shard[])) {
        if (shard.ShardId === undefined || shards.has(shard.ShardId)) continue;
        shards.set(shard.ShardId, {
          ...(shard.ParentShardId !== undefined ? { parentShardId: shard.ParentShardId } : {}),
          done: false,
        });
      }
      start = page.StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined);
  };

  const iteratorFor = async (shardId: string, position: ShardPosition): Promise<string | undefined> => {
    const from = position.retryFrom ?? position.checkpoint;
    const answer = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(position.retryFrom !== undefined
          ? { ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: from }
          : from !== undefined
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: from }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return answer.ShardIterator;
  };

  /** Reads one batch of one shard; true when a failed batch asks for a pause. */
  const readShard = async (shardId: string, position: ShardPosition): Promise<boolean> => {
    const parent = position.parentShardId === undefined ? undefined : shards.get(position.parentShardId);
    // A company's writes may span a split: the parent's records come first.
    if (parent !== undefined && !parent.done) return false;
    position.iterator ??= await iteratorFor(shardId, position);
    position.retryFrom = undefined;
    if (position.iterator === undefined) {
      position.done = true;
      return false;
    }
    let answer;
    try {
      answer = await streams.send(new GetRecordsCommand({ ShardIterator: position.iterator, Limit: 100 }));
    } catch (error) {
      // An iterator lives 15 minutes, and DynamoDB Local refuses one taken on a shard before its
      // first record (TrimmedDataAccessException): take a fresh one from the checkpoint.
      if (!(error instanceof ExpiredIteratorException) && !(error instanceof TrimmedDataAccessException))
        throw error;
      position.iterator = undefined;
      return false;
    }
    const records = answer.Records ?? [];
    if (records.length > 0) {
      const failedAt = await options.onBatch(records);
      if (failedAt !== undefined) {
        const index = records.findIndex((r) => r.dynamodb?.SequenceNumber === failedAt);
        const handled = index > 0 ? records[index - 1]?.dynamodb?.SequenceNumber : undefined;
        if (handled !== undefined) position.checkpoint = handled;
        position.retryFrom = failedAt;
        position.iterator = undefined;
        return true;
      }
      position.checkpoint = records.at(-1)?.dynamodb?.SequenceNumber ?? position.checkpoint;
    }
    position.iterator = answer.NextShardIterator;
    if (position.iterator === undefined) position.done = true;
    return false;
  };

  const pollOnce = async (): Promise<number> => {
    let pause = pollIntervalMs;
    try {
      if (polls % DESCRIBE_EVERY_POLLS === 0) await describe();
      polls += 1;
      for (const [shardId, position] of shards) {
        if (stopped) break;
        if (position.done) continue;
        if (await readShard(shardId, position)) pause = Math.max(pause, retryDelayMs);
      }
    } catch (error) {
      options.onError?.(error);
      pause = Math.max(pause, retryDelayMs);
    }
    return pause;
  };
  const running = (async () => {
    while (!stopped) {
      const pause = await pollOnce();
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, pause);
      });
    }
  })();

  return {
    async close() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await running;
      streams.destroy();
    },
  };
}
