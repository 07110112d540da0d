import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import type { EventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { EventSourceMapping, StartingPosition, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeNagFinding } from '../nag';

/** How long DynamoDB keeps a stream record: past it, a record is gone, so retries stop there. */
const STREAM_RETENTION = Duration.hours(24);

export interface LifecycleEventStreamProps {
  /** The connections table, with its NEW_AND_OLD_IMAGES stream. */
  readonly table: Table;
  /** The key the table (and so its stream) is encrypted with. */
  readonly tableKey: IKey;
  /** The stream consumer (lambdas/events.ts) and its role. */
  readonly consumer: IFunction;
  readonly consumerRole: IRole;
  /** Where the consumer puts the events. */
  readonly eventBus: EventBus;
}

/**
 * The connections table's stream into the lifecycle-event consumer. A stream consumer rather than
 * EventBridge Pipes: the mapping from old and new image to an event is TypeScript we unit-test, and
 * the same code runs against DynamoDB Local. A batch whose events EventBridge does not accept is
 * retried from the first failed record (partial batch response) until the record would leave the
 * stream; bisecting isolates a record that keeps failing. What still fails is described (shard and
 * sequence numbers, never item data) in an encrypted queue that raises an alarm.
 */
export class LifecycleEventStream extends Construct {
  readonly mapping: EventSourceMapping;
  /** Batches the consumer gave up on, as Lambda describes them. */
  readonly failedBatches: Queue;

  constructor(scope: Construct, id: string, props: LifecycleEventStreamProps) {
    super(scope, id);
    const streamArn = props.table.tableStreamArn;
    if (streamArn === undefined) throw new Error('the connections table has no stream');

    this.failedBatches = new Queue(this, 'FailedBatches', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // It is the dead-letter destination: a queue behind it would have nobody to read it either.
    acknowledgeNagFinding(this.failedBatches, 'AwsSolutions-SQS3');
    acknowledgeNagFinding(this.failedBatches, 'Serverless-SQSRedrivePolicy');

    this.mapping = new EventSourceMapping(this, 'Mapping', {
      target: props.consumer,
      eventSourceArn: streamArn,
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      // One batch per shard at a time: a company's events arrive in the order they happened.
      parallelizationFactor: 1,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      // Bounded by the record's age, not a count: an EventBridge outage of hours loses nothing.
      retryAttempts: 10_000,
      maxRecordAge: STREAM_RETENTION,
      onFailure: new SqsDlq(this.failedBatches),
    });

    const allow = (actions: string[], resources: string[]) =>
      props.consumerRole.addToPrincipalPolicy(new PolicyStatement({ actions, resources }));
    allow(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], [streamArn]);
    // Stream records are encrypted with the table's key.
    allow(['kms:Decrypt'], [props.tableKey.keyArn]);
    allow(['events:PutEvents'], [props.eventBus.eventBusArn]);
  }
}
