/**
 * The webhook deliverer in AWS: an EventBridge event from the queue, POSTed to a real HTTP receiver
 * that verifies it with the `standardwebhooks` package as an app would; a refused POST hides the
 * message for the backoff's delay (ChangeMessageVisibility) and reports it failed; the last receive
 * logs the event abandoned. The key the app derives from the secret is the key the deliverer signs with.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context, SQSRecord } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { createPowertoolsTelemetry } from '../../lambdas/adapters/powertools-telemetry';
import { SecretsManagerWebhookKeySource } from '../../lambdas/adapters/secrets-manager-webhook-key';
import { SqsMessageVisibility } from '../../lambdas/adapters/sqs-webhook-queue';
import { StandardWebhookSender } from '../../lambdas/adapters/webhook-sender';
import { ConfigError } from '../../lambdas/core/errors';
import {
  redeliveryDelaySeconds,
  totalRedeliverySeconds,
  WEBHOOK_MAX_RECEIVES,
  webhookSigningKeyOf,
} from '../../lambdas/core/webhook-delivery';
import {
  createWebhookDeliveryHandler,
  lifecycleEventOfEnvelope,
} from '../../lambdas/handlers/webhook-factories';
import { CapturingTelemetry } from './fakes/capturing-telemetry';

/** What Secrets Manager generates for the stack: url-safe characters, no punctuation. */
const GENERATED = 'Zq8Rm2Lw0Xc5Vb7Nk1Jh3Gf6Ds9Aa4Pp0Oo2Ii8Uu6Yy1Tt';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/WebhookQueue';
const credentials = { accessKeyId: 'x', secretAccessKey: 'y' };
const sqs = mockClient(SQSClient);
const secrets = mockClient(SecretsManagerClient);

const DETAIL = {
  eventId: 'evt-1',
  realmId: '9130347',
  tenantId: 'tenant-a',
  companyName: 'Craig’s Design',
  qboEnvironment: 'sandbox',
  occurredAt: '2026-12-01T10:00:00.000Z',
};
const ENVELOPE = {
  version: '0',
  id: 'eb-id',
  'detail-type': 'Connection Created',
  source: 'qbo-connector',
  account: '123456789012',
  time: DETAIL.occurredAt,
  region: 'eu-west-1',
  resources: [],
  detail: DETAIL,
};

function recordOf(receiveCount: number, body: string = JSON.stringify(ENVELOPE)): SQSRecord {
  return {
    messageId: `m-${receiveCount}`,
    receiptHandle: `rh-${receiveCount}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 'events',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:WebhookQueue',
    awsRegion: 'eu-west-1',
  };
}

const context = { functionName: 'webhooks', awsRequestId: 'r' } as unknown as Context;

interface Received {
  readonly body: string;
  readonly headers: Record<string, string>;
}

let server: http.Server;
let url: string;
let status = 204;
let received: Received[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers))
        if (typeof value === 'string') headers[name] = value;
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  status = 204;
  received = [];
  sqs.reset();
  secrets.reset();
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
});

function handlerWith(telemetry: CapturingTelemetry, maxReceives = WEBHOOK_MAX_RECEIVES) {
  const key = webhookSigningKeyOf(GENERATED);
  return createWebhookDeliveryHandler(
    {
      sender: async () => new StandardWebhookSender({ url, secret: key, timeoutMs: 2000 }),
      visibility: () =>
        new SqsMessageVisibility(QUEUE_URL, new SQSClient({ region: 'eu-west-1', credentials })),
      telemetry,
      maxReceives,
    },
    createPowertoolsTelemetry('test'),
  );
}

const run = (telemetry: CapturingTelemetry, records: SQSRecord[], maxReceives?: number) =>
  handlerWith(telemetry, maxReceives)({ Records: records }, context);

describe('webhook delivery from the queue', () => {
  it('POSTs the event signed, verifiable by the app with the key it derives from the same secret', async () => {
    const telemetry = new CapturingTelemetry();
    expect(await run(telemetry, [recordOf(1)])).toEqual({ batchItemFailures: [] });
    expect(received).toHaveLength(1);
    const delivery = received[0]!;
    const verified = new Webhook(webhookSigningKeyOf(GENERATED)).verify(delivery.body, delivery.headers);
    expect(verified).toEqual({ type: 'Connection Created', timestamp: DETAIL.occurredAt, data: DETAIL });
    expect(delivery.headers['webhook-id']).toBe(DETAIL.eventId);
    expect(telemetry.codes()).toEqual(['WEBHOOK_DELIVERED']);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
    // Neither the body nor the key reaches a log line.
    const logged = JSON.stringify(telemetry.events);
    expect(logged).not.toContain(DETAIL.companyName);
    expect(logged).not.toContain(GENERATED);
  });

  it('a delivery signed with another key does not verify', async () => {
    await run(new CapturingTelemetry(), [recordOf(1)]);
    const other = webhookSigningKeyOf(GENERATED.replace('Z', 'Y'));
    expect(() => new Webhook(other).verify(received[0]!.body, received[0]!.headers)).toThrow();
  });

  it('a refused POST is a batch item failure, hidden for the backoff of its receive count', async () => {
    status = 500;
    const telemetry = new CapturingTelemetry();
    expect(await run(telemetry, [recordOf(3)])).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-3' }] });
    const calls = sqs.commandCalls(ChangeMessageVisibilityCommand);
    expect(calls.map((call) => call.args[0].input)).toEqual([
      { QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-3', VisibilityTimeout: 120 },
    ]);
    expect(telemetry.codes()).toEqual(['WEBHOOK_DELIVERY_FAILED']);
    expect(telemetry.events[0]!.fields).toMatchObject({ status: 500, attempt: 3, eventId: 'evt-1' });
  });

  it('still reports the failure when the visibility cannot be changed', async () => {
    status = 503;
    sqs.on(ChangeMessageVisibilityCommand).rejects(new Error('throttled'));
    expect(await run(new CapturingTelemetry(), [recordOf(1)])).toEqual({
      batchItemFailures: [{ itemIdentifier: 'm-1' }],
    });
  });

  it('at the last receive, logs the event abandoned and leaves it to the dead-letter queue', async () => {
    status = 500;
    const telemetry = new CapturingTelemetry();
    expect(await run(telemetry, [recordOf(WEBHOOK_MAX_RECEIVES)])).toEqual({
      batchItemFailures: [{ itemIdentifier: `m-${WEBHOOK_MAX_RECEIVES}` }],
    });
    expect(telemetry.codes()).toEqual(['WEBHOOK_DELIVERY_FAILED', 'WEBHOOK_DELIVERY_ABANDONED']);
    expect(telemetry.events[1]!.fields).toMatchObject({ eventId: 'evt-1', attempts: WEBHOOK_MAX_RECEIVES });
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
  });

  it('drops a message that is not a lifecycle event without POSTing it', async () => {
    const telemetry = new CapturingTelemetry();
    const other = JSON.stringify({ ...ENVELOPE, source: 'someone-else' });
    expect(await run(telemetry, [recordOf(1, other), recordOf(2, 'not json')])).toEqual({
      batchItemFailures: [],
    });
    expect(received).toHaveLength(0);
    expect(telemetry.codes()).toEqual(['WEBHOOK_DELIVERY_ABANDONED', 'WEBHOOK_DELIVERY_ABANDONED']);
  });
});

describe('the envelope', () => {
  it('maps back to the event the stream consumer published', () => {
    expect(lifecycleEventOfEnvelope(JSON.stringify(ENVELOPE))).toEqual({
      type: 'Connection Created',
      detail: DETAIL,
    });
    expect(
      lifecycleEventOfEnvelope(JSON.stringify({ ...ENVELOPE, 'detail-type': 'Something Else' })),
    ).toBeUndefined();
    expect(
      lifecycleEventOfEnvelope(JSON.stringify({ ...ENVELOPE, detail: { ...DETAIL, eventId: 7 } })),
    ).toBeUndefined();
  });
});

describe('backoff', () => {
  it('starts at 30 s, doubles, and is capped at an hour', () => {
    expect([1, 2, 3, 4, 7, 8, 9, 12].map(redeliveryDelaySeconds)).toEqual([
      30, 60, 120, 240, 1920, 3600, 3600, 3600,
    ]);
  });

  it('spans at least six hours before an event goes to the dead-letter queue', () => {
    expect(totalRedeliverySeconds(WEBHOOK_MAX_RECEIVES)).toBeGreaterThanOrEqual(6 * 3600);
    expect(totalRedeliverySeconds(WEBHOOK_MAX_RECEIVES - 1)).toBeLessThan(6 * 3600);
  });
});

describe('the signing key', () => {
  it('is whsec_ and the base64 of the secret value, which the package accepts', () => {
    const key = webhookSigningKeyOf(GENERATED);
    expect(key).toBe(`whsec_${Buffer.from(GENERATED, 'utf8').toString('base64')}`);
    const signer = new Webhook(key);
    const at = new Date();
    const body = '{"ok":true}';
    const headers = {
      'webhook-id': 'id-1',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signer.sign('id-1', at, body),
    };
    expect(new Webhook(webhookSigningKeyOf(GENERATED)).verify(body, headers)).toEqual({ ok: true });
  });

  it('refuses a value too short to be the generated secret', () => {
    expect(() => webhookSigningKeyOf('short')).toThrow(/at least 43/);
  });

  it('is read from Secrets Manager once while cached', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: GENERATED });
    const source = new SecretsManagerWebhookKeySource({
      secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:WebhookSecret-AbCdEf',
      client: new SecretsManagerClient({ region: 'eu-west-1', credentials }),
    });
    expect(await source.get()).toBe(webhookSigningKeyOf(GENERATED));
    await source.get();
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('a stored value too short is a configuration error', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'short' });
    const source = new SecretsManagerWebhookKeySource({
      secretId: 'WebhookSecret',
      client: new SecretsManagerClient({ region: 'eu-west-1', credentials }),
    });
    await expect(source.get()).rejects.toBeInstanceOf(ConfigError);
  });
});
