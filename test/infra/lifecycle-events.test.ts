/**
 * Lifecycle events in AWS: the connections table's stream (old and new images), the stack's
 * EventBridge bus, the stream consumer with its mapping (partial batch failures, bisect, retries
 * bounded by the stream's retention, a failure queue with an alarm), and its least privilege.
 */
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import {
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';
import { alarms, environmentOf, nameOf, outputsOf, permissionsOf } from './support/template';

beforeAll(() => {
  synthesizeConnectorEnvironments();
}, SYNTHESIS_TIMEOUT_MS);

const connectionTableOf = (c: SynthesizedConnector): Json =>
  propertiesOf(
    resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[
      logicalIdOf(c.stateful, c.stateful.connectionTable)
    ] as Json,
  );

const mappingOf = (c: SynthesizedConnector): Json => {
  const mappings = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::Lambda::EventSourceMapping'));
  expect(mappings).toHaveLength(1);
  return propertiesOf(mappings[0]!);
};

const failureQueueId = (c: SynthesizedConnector): string =>
  logicalIdOf(c.stateless, c.stateless.lifecycleEvents.failedBatches);

describe('lifecycle events', () => {
  it('stream every write of the connections table with the item before and after it', () => {
    for (const [, c] of connectors()) {
      expect(connectionTableOf(c)['StreamSpecification']).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
      // The flow table holds no connection: no stream.
      const flow = propertiesOf(
        resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[
          logicalIdOf(c.stateful, c.stateful.flowTable)
        ] as Json,
      );
      expect(flow['StreamSpecification']).toBeUndefined();
    }
  });

  it('go to an EventBridge bus of the stateful stack, named in its outputs', () => {
    for (const [, c] of connectors()) {
      const buses = resourcesOfType(c.statefulTemplate, 'AWS::Events::EventBus');
      expect(Object.keys(buses)).toEqual([logicalIdOf(c.stateful, c.stateful.eventBus)]);
      const outputs = outputsOf(c.statefulTemplate);
      expect(outputs['EventBusName']).toBeDefined();
      expect(outputs['EventBusArn']).toBeDefined();
    }
  });

  it('keep the bus in prod when the stack is deleted, and let dev tear it down', () => {
    const bus = (c: SynthesizedConnector) =>
      resourcesOfType(c.statefulTemplate, 'AWS::Events::EventBus')[
        logicalIdOf(c.stateful, c.stateful.eventBus)
      ];
    const { dev, prod } = synthesizeConnectorEnvironments();
    expect(bus(prod)).toMatchObject({ DeletionPolicy: 'Retain' });
    expect(bus(dev)).toMatchObject({ DeletionPolicy: 'Delete' });
  });

  it('are published by the consumer from the stream, from the oldest record, retried from the first failed one', () => {
    for (const [, c] of connectors()) {
      const mapping = mappingOf(c);
      expect(nameOf(c, mapping['FunctionName'])).toBe('EventsFunction.Ref');
      expect(nameOf(c, mapping['EventSourceArn'])).toBe('ConnectionTable.StreamArn');
      expect(mapping).toMatchObject({
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ParallelizationFactor: 1,
        MaximumRecordAgeInSeconds: 24 * 3600,
        MaximumRetryAttempts: 10_000,
        BatchSize: 100,
      });
      const onFailure = (mapping['DestinationConfig'] as { OnFailure: { Destination: unknown } }).OnFailure;
      expect(onFailure.Destination).toEqual({ 'Fn::GetAtt': [failureQueueId(c), 'Arn'] });
      expect(environmentOf(c, 'events')['EVENT_BUS_NAME']).toBeDefined();
      expect(nameOf(c, environmentOf(c, 'events')['EVENT_BUS_NAME'])).toMatch(/EventBus/);
    }
  });

  it('describe a batch given up on in an encrypted, TLS-only queue whose first message raises an alarm', () => {
    for (const [, c] of connectors()) {
      const queue = propertiesOf(resourcesOfType(c.statelessTemplate, 'AWS::SQS::Queue')[failureQueueId(c)]!);
      expect(queue).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
      const policies = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::SQS::QueuePolicy')).map(
        propertiesOf,
      );
      expect(JSON.stringify(policies)).toContain('aws:SecureTransport');
      const watching = alarms(c).filter(
        (a) =>
          a['MetricName'] === 'ApproximateNumberOfMessagesVisible' &&
          JSON.stringify(a['Dimensions']).includes(failureQueueId(c)),
      );
      expect(watching).toHaveLength(1);
      expect(watching[0]).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmDescription: expect.stringMatching(/Runbook: docs\/runbook\.md#lifecycleeventsfailed$/),
      });
    }
  });

  it('the consumer may read the stream, put events on this bus only and report failed batches; no table, no token key', () => {
    for (const [, c] of connectors()) {
      const permissions = permissionsOf(c, c.stateless.handlers.events.role);
      const busArn = permissions.find((p) => p.startsWith('events:PutEvents '));
      expect(busArn).toMatch(/^events:PutEvents LifecycleEventBus.*\.Arn$/);
      expect(permissions).toEqual(
        [
          'dynamodb:DescribeStream ConnectionTable.StreamArn',
          'dynamodb:GetRecords ConnectionTable.StreamArn',
          'dynamodb:GetShardIterator ConnectionTable.StreamArn',
          busArn!,
          'kms:Decrypt ConnectionTableKey.Arn',
          'logs:CreateLogStream EventsLogGroup.Arn',
          'logs:PutLogEvents EventsLogGroup.Arn',
          `sqs:GetQueueAttributes ${failureQueueId(c)}.Arn`,
          `sqs:GetQueueUrl ${failureQueueId(c)}.Arn`,
          `sqs:SendMessage ${failureQueueId(c)}.Arn`,
        ].sort(),
      );
    }
  });
});
