/**
 * Webhooks in AWS, only for an environment with a `webhookUrl`: the generated signing secret, a
 * rule on the bus into an encrypted queue with a dead-letter queue after 13 receives (an alarm on
 * it), the deliverer reading the queue one message at a time with partial batch failures, and each
 * side allowed exactly what it does. Without a `webhookUrl` none of it exists.
 */
import { ENVIRONMENTS, resolveEnvironment, type EnvironmentConfig } from '../../lib/config/environments';
import { RUNBOOK_ANCHORS } from '../../lib/runbook';
import { FUNCTIONS } from '../../lambdas/routes';
import { WEBHOOK_MAX_RECEIVES } from '../../lambdas/core/webhook-delivery';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  synthesizeConnector,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import { SYNTHESIS_TIMEOUT_MS } from './support/connector-environments';
import { alarms, nameOf, outputsOf, permissionsOf } from './support/template';

const WEBHOOK_URL = 'https://app.example.com/hooks/quickbooks';
const HOOKED: EnvironmentConfig = { ...ENVIRONMENTS.dev, webhookUrl: WEBHOOK_URL };

let hooked: SynthesizedConnector;
let plain: SynthesizedConnector;

beforeAll(() => {
  hooked = synthesizeConnector('hooked', { ...ENVIRONMENTS, hooked: HOOKED });
  plain = synthesizeConnector('dev');
}, SYNTHESIS_TIMEOUT_MS);

const webhooksOf = (c: SynthesizedConnector) => {
  const webhooks = c.stateless.webhooks;
  if (webhooks === undefined) throw new Error('no webhooks synthesized');
  return webhooks;
};
const resourceOf = (c: SynthesizedConnector, type: string, construct: { node: { defaultChild?: unknown } }) =>
  resourcesOfType(c.statelessTemplate, type)[logicalIdOf(c.stateless, construct)] as Json;

describe('webhookUrl', () => {
  it('must be https, without credentials', () => {
    const attempt = (webhookUrl: string) =>
      resolveEnvironment('x', { x: { ...ENVIRONMENTS.dev, webhookUrl } });
    expect(() => attempt(WEBHOOK_URL)).not.toThrow();
    expect(() => attempt('http://app.example.com/hooks')).toThrow(/webhookUrl must be an https URL/);
    expect(() => attempt('https://user:pw@app.example.com/hooks')).toThrow(/webhookUrl/);
    expect(() => attempt('not a url')).toThrow(/webhookUrl/);
  });
});

describe('webhooks with a webhookUrl', () => {
  it('sign with a secret the stack generates, never written in the template, named in an output', () => {
    const secrets = resourcesOfType(hooked.statefulTemplate, 'AWS::SecretsManager::Secret');
    const secret = propertiesOf(
      secrets[logicalIdOf(hooked.stateful, hooked.stateful.webhookSecret!)] as Json,
    );
    expect(secret['GenerateSecretString']).toMatchObject({ ExcludePunctuation: true, IncludeSpace: false });
    expect((secret['GenerateSecretString'] as Json)['PasswordLength']).toBeGreaterThanOrEqual(43);
    expect(secret['SecretString']).toBeUndefined();
    expect(outputsOf(hooked.statefulTemplate)['WebhookSecretArn']).toBeDefined();
  });

  it('take every event of the bus from source qbo-connector into the queue, which only the rule may send to', () => {
    const { delivery } = webhooksOf(hooked);
    const rule = propertiesOf(resourceOf(hooked, 'AWS::Events::Rule', delivery.rule));
    expect(rule['EventPattern']).toEqual({ source: ['qbo-connector'] });
    expect(nameOf(hooked, rule['EventBusName'])).toMatch(/^LifecycleEventBus/);
    const targets = rule['Targets'] as Json[];
    expect(targets).toHaveLength(1);
    expect(nameOf(hooked, targets[0]!['Arn'])).toBe('WebhookQueue.Arn');
    // What EventBridge cannot put on the queue goes to the alarmed dead-letter queue.
    expect(nameOf(hooked, (targets[0]!['DeadLetterConfig'] as Json)['Arn'])).toBe('WebhookDeadLetters.Arn');

    const policies = Object.values(resourcesOfType(hooked.statelessTemplate, 'AWS::SQS::QueuePolicy'))
      .map(propertiesOf)
      .filter((p) => (p['Queues'] as unknown[]).some((q) => nameOf(hooked, q) === 'WebhookQueue.Ref'));
    expect(policies).toHaveLength(1);
    const statements = (policies[0]!['PolicyDocument'] as { Statement: Json[] }).Statement;
    const allows = statements.filter((s) => s['Effect'] === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Action: 'sqs:SendMessage',
      Principal: { Service: 'events.amazonaws.com' },
    });
    const condition = (allows[0]!['Condition'] as Json)['ArnEquals'] as Json;
    expect(nameOf(hooked, condition['aws:SourceArn'])).toBe('WebhookRule.Arn');
    // The other statement is enforceSSL's Deny of plain-text access.
    expect(statements.filter((s) => s['Effect'] === 'Deny')).toHaveLength(1);
  });

  it('queue encrypted, hidden six timeouts of the deliverer, dead-lettered after 13 receives into a 14-day queue', () => {
    const { delivery } = webhooksOf(hooked);
    const queue = propertiesOf(resourceOf(hooked, 'AWS::SQS::Queue', delivery.queue));
    expect(queue['SqsManagedSseEnabled']).toBe(true);
    expect(queue['VisibilityTimeout']).toBeGreaterThanOrEqual(FUNCTIONS.webhooks.timeoutSeconds * 6);
    expect(queue['RedrivePolicy']).toMatchObject({ maxReceiveCount: WEBHOOK_MAX_RECEIVES });
    expect(nameOf(hooked, (queue['RedrivePolicy'] as Json)['deadLetterTargetArn'])).toBe(
      'WebhookDeadLetters.Arn',
    );
    expect(queue['MessageRetentionPeriod']).toBeGreaterThan(7 * 3600);

    const dead = propertiesOf(resourceOf(hooked, 'AWS::SQS::Queue', delivery.deadLetters));
    expect(dead['SqsManagedSseEnabled']).toBe(true);
    expect(dead['MessageRetentionPeriod']).toBe(14 * 24 * 3600);
  });

  it('raise an alarm on the first dead letter, pointing at its runbook entry', () => {
    const { delivery } = webhooksOf(hooked);
    const deadId = logicalIdOf(hooked.stateless, delivery.deadLetters);
    const watching = alarms(hooked).filter(
      (a) =>
        a['MetricName'] === 'ApproximateNumberOfMessagesVisible' &&
        JSON.stringify(a['Dimensions']).includes(deadId),
    );
    expect(watching).toHaveLength(1);
    expect(watching[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(watching[0]!['AlarmDescription']).toMatch(
      new RegExp(`Runbook: docs/runbook\\.md#${RUNBOOK_ANCHORS.webhookDeliveryAbandoned}$`),
    );
  });

  it('are delivered by the deliverer, one message at a time, two at most at once, reporting failed items', () => {
    const mappings = Object.values(
      resourcesOfType(hooked.statelessTemplate, 'AWS::Lambda::EventSourceMapping'),
    )
      .map(propertiesOf)
      .filter((m) => nameOf(hooked, m['EventSourceArn']) === 'WebhookQueue.Arn');
    expect(mappings).toHaveLength(1);
    expect(nameOf(hooked, mappings[0]!['FunctionName'])).toBe('WebhooksFunction.Ref');
    expect(mappings[0]).toMatchObject({
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('give the deliverer its URL, secret, receive limit and queue', () => {
    const { handler, delivery } = webhooksOf(hooked);
    const fn = propertiesOf(resourceOf(hooked, 'AWS::Lambda::Function', handler.function));
    expect(fn['Timeout']).toBe(FUNCTIONS.webhooks.timeoutSeconds);
    const variables = (fn['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(variables['WEBHOOK_URL']).toBe(WEBHOOK_URL);
    expect(variables['WEBHOOK_MAX_RECEIVES']).toBe(String(WEBHOOK_MAX_RECEIVES));
    expect(nameOf(hooked, variables['WEBHOOK_SECRET_ID'])).toBe('WebhookSecret.Ref');
    expect(nameOf(hooked, variables['WEBHOOK_QUEUE_URL'])).toBe('WebhookQueue.Ref');
    expect(logicalIdOf(hooked.stateless, delivery.queue)).toBeDefined();
  });

  it('let the deliverer read its secret and consume its queue, and nothing else', () => {
    expect(permissionsOf(hooked, webhooksOf(hooked).handler.role)).toEqual(
      [
        'logs:CreateLogStream WebhooksLogGroup.Arn',
        'logs:PutLogEvents WebhooksLogGroup.Arn',
        'secretsmanager:GetSecretValue WebhookSecret.Ref',
        'sqs:ChangeMessageVisibility WebhookQueue.Arn',
        'sqs:DeleteMessage WebhookQueue.Arn',
        'sqs:GetQueueAttributes WebhookQueue.Arn',
        'sqs:ReceiveMessage WebhookQueue.Arn',
      ].sort(),
    );
  });

  it('keep the webhook secret out of every other function', () => {
    for (const handler of Object.values(hooked.stateless.handlers))
      expect(permissionsOf(hooked, handler.role).filter((p) => p.includes('WebhookSecret'))).toEqual([]);
  });
});

describe('without a webhookUrl', () => {
  it('there is no webhook secret, rule, queue, deliverer or alarm', () => {
    expect(plain.stateful.webhookSecret).toBeUndefined();
    expect(plain.stateless.webhooks).toBeUndefined();
    expect(resourcesOfType(plain.statelessTemplate, 'AWS::Events::Rule')).toEqual({});
    expect(outputsOf(plain.statefulTemplate)['WebhookSecretArn']).toBeUndefined();
    const functions = Object.values(resourcesOfType(plain.statelessTemplate, 'AWS::Lambda::Function'));
    expect(functions.some((f) => JSON.stringify(f).includes('WEBHOOK_URL'))).toBe(false);
    expect(alarms(plain).some((a) => String(a['AlarmDescription']).includes('webhook'))).toBe(false);
  });
});
