/**
 * The stream consumer: the connections table's DynamoDB stream in, lifecycle events out. Apart
 * from the other factories so its bundle loads neither the token lifecycle nor a page.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';
import type { ConnectionStreamRecord } from '../adapters/connection-stream-record';
import { connectionChangeOf } from '../adapters/connection-stream-record';
import type { LifecycleEventPublisher, SequencedChange } from '../core/lifecycle-publishing';
import { publishLifecycleEvents } from '../core/lifecycle-publishing';
import type { Telemetry } from '../core/telemetry';

export interface LifecycleEventsDependencies {
  readonly publisher: () => LifecycleEventPublisher;
  readonly telemetry: Telemetry;
  readonly clock: () => number;
}

/** Records in stream order, each with its position (the partial batch response names it). */
export function sequencedChangesOf(
  records: readonly ConnectionStreamRecord[],
  now: number,
): SequencedChange[] {
  return records.flatMap((record) => {
    const sequenceNumber = record.dynamodb?.SequenceNumber;
    return sequenceNumber === undefined ? [] : [{ sequenceNumber, change: connectionChangeOf(record, now) }];
  });
}

export type LifecycleEventsHandler = (
  event: DynamoDBStreamEvent,
  context: Context,
) => Promise<DynamoDBBatchResponse>;

export function createLifecycleEventsHandler(
  deps: LifecycleEventsDependencies,
  telemetry: PowertoolsTelemetry,
): LifecycleEventsHandler {
  const run = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const result = await publishLifecycleEvents(sequencedChangesOf(event.Records, deps.clock()), {
      publisher: deps.publisher(),
      telemetry: deps.telemetry,
    });
    return {
      batchItemFailures:
        result.firstFailedSequenceNumber === undefined
          ? []
          : [{ itemIdentifier: result.firstFailedSequenceNumber }],
    };
  };
  return middy(run)
    .use(injectLambdaContext(telemetry.logger, { resetKeys: true, logEvent: false }))
    .use(logMetrics(telemetry.metrics));
}
