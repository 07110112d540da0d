import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal, type IRole } from 'aws-cdk-lib/aws-iam';
import { Rule, type EventBus, type IRuleTarget } from 'aws-cdk-lib/aws-events';
import { EventSourceMapping, type IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '../../lambdas/core/lifecycle-events';
import { acknowledgeNagFinding } from '../nag';

/** Lambda's advice for a queue it reads: six times the function's timeout, so a slow run is not redelivered. */
const VISIBILITY_PER_TIMEOUT = 6;
/** At most this many deliveries in flight, whatever the backlog: a slow app is not hammered. */
const MAX_CONCURRENT_DELIVERIES = 2;

export interface WebhookDeliveryProps {
  /** The bus the lifecycle events are published to. */
  readonly eventBus: EventBus;
  /** The deliverer (lambdas/webhooks.ts), its role and timeout. */
  readonly deliverer: IFunction;
  readonly delivererRole: IRole;
  readonly delivererTimeout: Duration;
  /** The signing secret (the stateful stack's). */
  readonly secret: Secret;
  /** The queue's maxReceiveCount, the deliverer's WEBHOOK_MAX_RECEIVES. */
  readonly maxReceives: number;
}

/**
 * Webhooks for an app outside AWS: a rule on the bus puts every lifecycle event on an encrypted
 * queue, which the deliverer reads one message at a time. A failed delivery hides its message for
 * a growing delay (the deliverer calls ChangeMessageVisibility), so retries span hours; after
 * `maxReceives` receives the queue moves the message to its dead-letter queue, which has an alarm.
 */
export class WebhookDelivery extends Construct {
  readonly queue: Queue;
  readonly deadLetters: Queue;
  readonly rule: Rule;
  readonly mapping: EventSourceMapping;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);

    this.deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The last stop, alarmed and read by the operator: a queue behind it would have no reader.
    acknowledgeNagFinding(this.deadLetters, 'AwsSolutions-SQS3');
    acknowledgeNagFinding(this.deadLetters, 'Serverless-SQSRedrivePolicy');

    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.delivererTimeout.toSeconds() * VISIBILITY_PER_TIMEOUT),
      // Longer than every retry together, so an event is never dropped by age before the redrive.
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: props.maxReceives },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.rule = new Rule(this, 'Rule', {
      eventBus: props.eventBus,
      eventPattern: { source: [EVENT_SOURCE] },
      description: 'Lifecycle events to the webhook queue',
    });
    // A target of our own rather than aws-events-targets' SqsQueue, whose grant adds
    // GetQueueAttributes and GetQueueUrl: the rule only ever sends. An event EventBridge cannot put
    // on the queue (after its own retries for a day) lands in the dead-letter queue, alarmed.
    const target: IRuleTarget = {
      bind: () => ({
        arn: this.queue.queueArn,
        deadLetterConfig: { arn: this.deadLetters.queueArn },
        retryPolicy: { maximumEventAgeInSeconds: Duration.hours(24).toSeconds(), maximumRetryAttempts: 185 },
      }),
    };
    this.rule.addTarget(target);
    for (const queue of [this.queue, this.deadLetters]) {
      queue.addToResourcePolicy(
        new PolicyStatement({
          principals: [new ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [queue.queueArn],
          conditions: { ArnEquals: { 'aws:SourceArn': this.rule.ruleArn } },
        }),
      );
    }

    this.mapping = new EventSourceMapping(this, 'Mapping', {
      target: props.deliverer,
      eventSourceArn: this.queue.queueArn,
      // One event per invocation: one slow app answer delays no other event.
      batchSize: 1,
      reportBatchItemFailures: true,
      maxConcurrency: MAX_CONCURRENT_DELIVERIES,
    });
    acknowledgeNagFinding(this.mapping, 'Serverless-LambdaEventSourceMappingDestination');

    const allow = (actions: string[], resources: string[]) =>
      props.delivererRole.addToPrincipalPolicy(new PolicyStatement({ actions, resources }));
    // What the event source mapping polls with, and the handler's backoff.
    allow(
      ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
      [this.queue.queueArn],
    );
    allow(['secretsmanager:GetSecretValue'], [props.secret.secretArn]);
  }
}
