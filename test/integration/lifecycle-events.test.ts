/**
 * Lifecycle events over HTTP, with DynamoDB Local's stream and the Intuit emulator: a company
 * connected, reconnected and disconnected through the real routes, each change read from the
 * connections table's stream, logged, and delivered to a webhook receiver that verifies it with the
 * receiving side of `standardwebhooks`, including a retry after a 500; and an event still published
 * when the process that wrote the change died before reading the stream.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { LifecycleEvent } from '../../lambdas/core/lifecycle-events';
import { consent, get, startFlow } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const COMPANIES: Record<string, string> = {
  '9341453908059321': 'Alder Landscaping',
  '9341453908059322': 'Birch Bakery',
  '9341453908059323': 'Cedar Consulting',
  '9341453908059324': 'Dogwood Dental',
};
const [ALDER, BIRCH, CEDAR, DOGWOOD] = Object.keys(COMPANIES) as [string, string, string, string];
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly answered: number;
}

/** The app's webhook endpoint: records every POST, answers 500 to the next `failNext` of them. */
class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  failNext = 0;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const answered = this.failNext > 0 ? 500 : 204;
        if (answered === 500) this.failNext -= 1;
        this.deliveries.push({
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          answered,
        });
        res.writeHead(answered).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}/hooks/quickbooks`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  /** What the app would do: verify, then parse. Throws on a bad signature. */
  static verified(delivery: Delivery): { type: string; data: Record<string, unknown> } {
    const headers = {
      'webhook-id': String(delivery.headers['webhook-id']),
      'webhook-timestamp': String(delivery.headers['webhook-timestamp']),
      'webhook-signature': String(delivery.headers['webhook-signature']),
    };
    return new Webhook(SECRET).verify(delivery.body, headers) as {
      type: string;
      data: Record<string, unknown>;
    };
  }
}

/** Polls until `found` returns something: the stream is read every 250 ms, webhooks retried within a second. */
async function eventually<T>(what: string, found: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = found();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let output: CapturedOutput;
let receiver: WebhookReceiver;
let stack: TestStack;
const seen: LifecycleEvent[] = [];

beforeAll(async () => {
  output = captureOutput();
  receiver = new WebhookReceiver();
  const url = await receiver.start();
  stack = await startTestStack({
    emulator: { companies: COMPANIES, realmId: ALDER },
    keepAliveIntervalMs: 0,
    env: { APP_WEBHOOK_URL: url, APP_WEBHOOK_SECRET: SECRET },
    webhookBackoffMs: [200, 400, 800],
    onLifecycleEvent: (event) => seen.push(event),
  });
});

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
  output?.restore();
});

/** A user connects `realmId` through the browser flow, on `on` (this file's stack by default). */
async function connect(realmId: string, on: TestStack = stack): Promise<void> {
  const flow = await startFlow(on.url);
  const callback = await consent(on.emulator, flow, 'allow', realmId);
  const response = await get(callback, flow.cookie);
  if (response.status !== 303) throw new Error(`callback answered ${response.status}`);
}

const deliveredOf = (type: string, realmId: string): Delivery | undefined =>
  receiver.deliveries.find((d) => {
    if (d.answered !== 204) return false;
    const payload = JSON.parse(d.body) as { type: string; data: { realmId: string } };
    return payload.type === type && payload.data.realmId === realmId;
  });

describe('given a company connected through the browser flow', () => {
  it('delivers Connection Created to the webhook, signed so the receiving library verifies it', async () => {
    await connect(ALDER);
    const delivery = await eventually('Connection Created for Alder', () =>
      deliveredOf('Connection Created', ALDER),
    );
    const payload = WebhookReceiver.verified(delivery);
    const stored = await stack.connections().get(ALDER);
    expect(payload).toEqual({
      type: 'Connection Created',
      timestamp: new Date(stored!.grantedAt).toISOString(),
      data: {
        eventId: expect.stringMatching(/^[0-9a-f]{64}$/),
        realmId: ALDER,
        companyName: 'Alder Landscaping',
        qboEnvironment: 'sandbox',
        occurredAt: new Date(stored!.grantedAt).toISOString(),
      },
    });
    // The Standard Webhooks id is the eventId: the app dedupes redeliveries on either.
    expect(delivery.headers['webhook-id']).toBe(payload.data['eventId']);
    expect(delivery.headers['content-type']).toBe('application/json');
    // I4: no token in the body the app receives.
    expect(delivery.body).not.toContain(stored!.tokens!.accessToken);
    expect(delivery.body).not.toContain(stored!.tokens!.refreshToken);
  });

  it('refuses a delivery whose body was altered (the receiver side of the same library)', () => {
    const delivery = deliveredOf('Connection Created', ALDER)!;
    expect(() =>
      WebhookReceiver.verified({ ...delivery, body: delivery.body.replace('Alder', 'Elder') }),
    ).toThrow();
  });

  it('logs the event as one CONNECTION_EVENT line, without a token', async () => {
    const line = await eventually('the CONNECTION_EVENT line', () =>
      output.logs().find((l) => l['code'] === 'CONNECTION_EVENT' && l['realmId'] === ALDER),
    );
    const stored = await stack.connections().get(ALDER);
    expect(line).toMatchObject({ level: 'INFO', message: 'Connection Created', type: 'Connection Created' });
    expect(JSON.stringify(line)).not.toContain(stored!.tokens!.refreshToken);
  });

  it('retries a delivery the app answered with 500, with the same id, until it is taken', async () => {
    receiver.failNext = 1;
    await connect(BIRCH);
    const delivered = await eventually('Connection Created for Birch', () =>
      deliveredOf('Connection Created', BIRCH),
    );
    const attempts = receiver.deliveries.filter(
      (d) => d.headers['webhook-id'] === delivered.headers['webhook-id'],
    );
    expect(attempts.map((a) => a.answered)).toEqual([500, 204]);
    // Each attempt is signed afresh and verifies on its own.
    for (const attempt of attempts) expect(WebhookReceiver.verified(attempt).type).toBe('Connection Created');
    // The receiver sees the delivery before the sender has logged its answer: wait for the line.
    const codesOf = () =>
      output
        .logs()
        .filter((l) => l['eventId'] === delivered.headers['webhook-id'])
        .map((l) => l['code']);
    const codes = await eventually('WEBHOOK_DELIVERED for Birch', () =>
      codesOf().includes('WEBHOOK_DELIVERED') ? codesOf() : undefined,
    );
    expect(codes).toEqual(expect.arrayContaining(['WEBHOOK_DELIVERY_FAILED', 'WEBHOOK_DELIVERED']));
  });

  it('publishes Connection Reconnected when the same company connects again, with a new eventId', async () => {
    await connect(ALDER);
    const delivery = await eventually('Connection Reconnected for Alder', () =>
      deliveredOf('Connection Reconnected', ALDER),
    );
    const reconnected = WebhookReceiver.verified(delivery);
    const created = WebhookReceiver.verified(deliveredOf('Connection Created', ALDER)!);
    expect(reconnected.data['eventId']).not.toBe(created.data['eventId']);
    expect(reconnected.data['companyName']).toBe('Alder Landscaping');
  });

  it('publishes Connection Disconnected when the app deletes the connection', async () => {
    const answer = await fetch(`${stack.url}/api/connections/${ALDER}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(answer.status).toBe(204);
    const delivery = await eventually('Connection Disconnected for Alder', () =>
      deliveredOf('Connection Disconnected', ALDER),
    );
    const stored = await stack.connection(ALDER);
    expect(WebhookReceiver.verified(delivery).data).toMatchObject({
      realmId: ALDER,
      occurredAt: new Date(Number(stored!['disconnectedAt'])).toISOString(),
    });
  });

  it('publishes nothing for a refresh (a new version of the same grant)', async () => {
    // Stored with an access token that is already too short-lived: the first request refreshes.
    stack.emulator.setAccessTokenLifetime(1);
    await connect(CEDAR);
    stack.emulator.setAccessTokenLifetime(3600);
    await eventually('Connection Created for Cedar', () => deliveredOf('Connection Created', CEDAR));
    const refreshed = await fetch(`${stack.url}/api/connections/${CEDAR}/access-token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(refreshed.status).toBe(200);
    const before = (await stack.connections().get(CEDAR))!.version;
    // A later change of Cedar shows the stream read past the refresh: then count Cedar's events.
    await fetch(`${stack.url}/api/connections/${CEDAR}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    await eventually('Connection Disconnected for Cedar', () =>
      deliveredOf('Connection Disconnected', CEDAR),
    );
    expect(before).toBeGreaterThan(1);
    expect(seen.filter((e) => e.detail.realmId === CEDAR).map((e) => e.type)).toEqual([
      'Connection Created',
      'Connection Disconnected',
    ]);
  });
});

describe('given a connection within 30 days of its 5-year cap', () => {
  it('the keep-alive publishes Connection Near Hard Expiry once, with the cap', async () => {
    await connect(DOGWOOD);
    const cap = Date.now() + 10 * 24 * 60 * 60 * 1000;
    // Grants are years from their cap in the emulator; move this one's cap close, as time would.
    const documents = DynamoDBDocumentClient.from(
      new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.dynamoDbEndpoint }),
    );
    await documents.send(
      new UpdateCommand({
        TableName: stack.tables.connection,
        Key: { realmId: DOGWOOD },
        UpdateExpression: 'SET refreshTokenHardExpiresAt = :cap',
        ExpressionAttributeValues: { ':cap': cap },
      }),
    );
    documents.destroy();
    await expect(stack.runKeepAlive()).resolves.toMatchObject({ nearHardExpiryNotified: 1 });
    await expect(stack.runKeepAlive()).resolves.toMatchObject({ nearHardExpiryNotified: 0 });
    const delivery = await eventually('Connection Near Hard Expiry for Dogwood', () =>
      deliveredOf('Connection Near Hard Expiry', DOGWOOD),
    );
    expect(WebhookReceiver.verified(delivery).data).toMatchObject({
      realmId: DOGWOOD,
      hardExpiresAt: new Date(cap).toISOString(),
    });
    expect(
      seen.filter((e) => e.detail.realmId === DOGWOOD && e.type === 'Connection Near Hard Expiry'),
    ).toHaveLength(1);
  });
});

describe('given a process that dies right after its write', () => {
  it('a process started later on the same tables still publishes the event, from the stream', async () => {
    const tablePrefix = `t-${randomBytes(4).toString('hex')}`;
    const realmId = '9341453908059399';
    // Writes the connection, never reads the stream: the event exists only as a stream record.
    const crashed = await startTestStack({
      tablePrefix,
      emulator: { companies: { [realmId]: 'Dogwood Dental' }, realmId },
      keepAliveIntervalMs: 0,
      lifecycleEvents: false,
    });
    let restarted: TestStack | undefined;
    try {
      await connect(realmId, crashed);
      expect((await crashed.connection(realmId))?.['status']).toBe('ACTIVE');
      expect(crashed.lifecycleEvents()).toEqual([]);
      restarted = await startTestStack({ tablePrefix, keepAliveIntervalMs: 0 });
      const event = await eventually('the event read after the restart', () =>
        restarted!.lifecycleEvents().find((e) => e.detail.realmId === realmId),
      );
      expect(event.type).toBe('Connection Created');
      expect(event.detail.companyName).toBe('Dogwood Dental');
    } finally {
      await restarted?.close();
      await crashed.close();
    }
  });
});
