/**
 * Lifecycle events from the connections table's stream: which writes are which event, which are
 * none, ids that survive redelivery, and no token in any event or log line.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import type { ConnectionStreamRecord } from '../../lambdas/adapters/connection-stream-record';
import { connectionChangeOf } from '../../lambdas/adapters/connection-stream-record';
import { EventBridgePublisher } from '../../lambdas/adapters/eventbridge-publisher';
import type { LifecycleEvent } from '../../lambdas/core/lifecycle-events';
import { deriveLifecycleEvent, EVENT_SOURCE, lifecycleEventId } from '../../lambdas/core/lifecycle-events';
import type { LifecycleEventPublisher } from '../../lambdas/core/lifecycle-publishing';
import { publishLifecycleEvents } from '../../lambdas/core/lifecycle-publishing';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { createPowertoolsTelemetry } from '../../lambdas/adapters/powertools-telemetry';
import { createLifecycleEventsHandler, sequencedChangesOf } from '../../lambdas/handlers/event-factories';
import { CapturingTelemetry } from './fakes/capturing-telemetry';

const CANARY_ACCESS = 'CANARYaccessTOKEN-never-in-an-event';
const CANARY_REFRESH = 'CANARYrefreshTOKEN-never-in-an-event';
const DAY = 24 * 60 * 60 * 1000;
const GRANTED = Date.UTC(2026, 0, 10);
const OBSERVED = Date.UTC(2026, 5, 1, 12);

type Item = Record<string, unknown>;

/** An ACTIVE connection as the store lays it out, sealed tokens carrying the canary. */
function activeItem(overrides: Item = {}): Item {
  return {
    realmId: '9130',
    status: 'ACTIVE',
    version: 1,
    grantedAt: GRANTED,
    connectedAt: GRANTED,
    qboEnvironment: 'sandbox',
    companyName: 'Craig’s Design and Landscaping',
    tenantId: 'tenant-42',
    sealedTokens: new TextEncoder().encode(`${CANARY_ACCESS}|${CANARY_REFRESH}`),
    accessTokenExpiresAt: GRANTED + 3600_000,
    refreshTokenExpiresAt: GRANTED + 100 * DAY,
    refreshTokenHardExpiresAt: GRANTED + 5 * 365 * DAY,
    keepAliveShard: 'active',
    refreshDueAt: GRANTED + 70 * DAY,
    ...overrides,
  };
}

/** The item after a store write that drops its tokens (reconnect required, disconnected). */
function withoutTokenSet(item: Item, overrides: Item): Item {
  const dropped = new Set([
    'sealedTokens',
    'accessTokenExpiresAt',
    'refreshTokenExpiresAt',
    'refreshTokenHardExpiresAt',
    'keepAliveShard',
    'refreshDueAt',
  ]);
  return { ...Object.fromEntries(Object.entries(item).filter(([name]) => !dropped.has(name))), ...overrides };
}

let sequence = 100;
/** A stream record as the DynamoDB Streams API delivers it (binary as bytes, time as a Date). */
function record(oldItem: Item | undefined, newItem: Item | undefined): ConnectionStreamRecord {
  sequence += 1;
  return {
    eventName: oldItem === undefined ? 'INSERT' : newItem === undefined ? 'REMOVE' : 'MODIFY',
    dynamodb: {
      ...(oldItem !== undefined ? { OldImage: marshall(oldItem) } : {}),
      ...(newItem !== undefined ? { NewImage: marshall(newItem) } : {}),
      SequenceNumber: String(sequence),
      ApproximateCreationDateTime: new Date(OBSERVED),
    },
  };
}

function eventFor(oldItem: Item | undefined, newItem: Item | undefined): LifecycleEvent | undefined {
  return deriveLifecycleEvent(connectionChangeOf(record(oldItem, newItem), OBSERVED));
}

describe('given a write to the connections table', () => {
  const active = activeItem();

  it('a first connection of a company is Connection Created, with the tenant and company', () => {
    expect(eventFor(undefined, active)).toEqual({
      type: 'Connection Created',
      detail: {
        eventId: lifecycleEventId('Connection Created', '9130', 1),
        realmId: '9130',
        tenantId: 'tenant-42',
        companyName: 'Craig’s Design and Landscaping',
        qboEnvironment: 'sandbox',
        occurredAt: new Date(GRANTED).toISOString(),
      },
    });
  });

  it('an item that held no grant yet becoming ACTIVE is Connection Created', () => {
    expect(eventFor({ realmId: '9130', tenantId: 'tenant-42' }, active)?.type).toBe('Connection Created');
  });

  it('a newer grant on an ACTIVE connection is Connection Reconnected', () => {
    const reconnected = activeItem({ version: 7, grantedAt: GRANTED + DAY });
    const event = eventFor(activeItem({ version: 6 }), reconnected);
    expect(event?.type).toBe('Connection Reconnected');
    expect(event?.detail.occurredAt).toBe(new Date(GRANTED + DAY).toISOString());
    expect(event?.detail.eventId).toBe(lifecycleEventId('Connection Reconnected', '9130', 7));
  });

  it.each([
    ['RECONNECT_REQUIRED', { reconnectReason: 'refresh_token_invalid' }],
    ['DISCONNECTED', { reconnectReason: 'disconnected', disconnectedAt: GRANTED + 2 * DAY }],
  ])('a newer grant after %s is Connection Reconnected', (status, extra) => {
    const before = withoutTokenSet(activeItem({ version: 4 }), { status, ...extra });
    expect(eventFor(before, activeItem({ version: 5, grantedAt: GRANTED + 3 * DAY }))?.type).toBe(
      'Connection Reconnected',
    );
  });

  it('a dead refresh token is Connection Reconnect Required, with the reason, at the stream time', () => {
    const after = withoutTokenSet(active, {
      status: 'RECONNECT_REQUIRED',
      reconnectReason: 'refresh_token_invalid',
      version: 2,
    });
    expect(eventFor(active, after)).toEqual({
      type: 'Connection Reconnect Required',
      detail: expect.objectContaining({
        eventId: lifecycleEventId('Connection Reconnect Required', '9130', 2),
        reason: 'refresh_token_invalid',
        occurredAt: new Date(OBSERVED).toISOString(),
      }),
    });
  });

  it('a disconnect is Connection Disconnected, at the disconnect time, without a reason', () => {
    const after = withoutTokenSet(active, {
      status: 'DISCONNECTED',
      reconnectReason: 'disconnected',
      disconnectedAt: GRANTED + 9 * DAY,
      version: 2,
    });
    const event = eventFor(active, after);
    expect(event?.type).toBe('Connection Disconnected');
    expect(event?.detail.occurredAt).toBe(new Date(GRANTED + 9 * DAY).toISOString());
    expect(event?.detail).not.toHaveProperty('reason');
  });

  it('the keep-alive marking a grant near its 5-year cap is Connection Near Hard Expiry, once per cap', () => {
    const cap = GRANTED + 5 * 365 * DAY;
    const marked = { ...active, nearHardExpiryNotifiedFor: cap };
    const event = eventFor(active, marked);
    expect(event?.type).toBe('Connection Near Hard Expiry');
    expect(event?.detail).toMatchObject({
      realmId: '9130',
      tenantId: 'tenant-42',
      hardExpiresAt: new Date(cap).toISOString(),
      eventId: lifecycleEventId('Connection Near Hard Expiry', '9130', cap),
    });
    // A later write of the same grant (a refresh) carries the marker on: no second event.
    expect(eventFor(marked, { ...marked, version: 2 })).toBeUndefined();
  });

  describe('that is no lifecycle change', () => {
    it.each<[string, Item, Item | undefined]>([
      ['a refresh (new version, same grant)', active, activeItem({ version: 2, lastRefreshedAt: OBSERVED })],
      ['a lease taken', active, activeItem({ leaseHolder: 'h-1', leaseUntil: OBSERVED + 30_000 })],
      ['a lease given back', activeItem({ leaseHolder: 'h-1', leaseUntil: OBSERVED }), active],
      ['a backoff recorded', active, activeItem({ refreshFailures: 1, refreshRetryAt: OBSERVED + 60_000 })],
      ['an older grant dropped (D5 keeps the stored one)', active, active],
      [
        'a second disconnect',
        withoutTokenSet(active, { status: 'DISCONNECTED', version: 2 }),
        withoutTokenSet(active, { status: 'DISCONNECTED', version: 3 }),
      ],
      [
        'a second reconnect-required write',
        withoutTokenSet(active, { status: 'RECONNECT_REQUIRED', version: 2 }),
        withoutTokenSet(active, { status: 'RECONNECT_REQUIRED', version: 3 }),
      ],
      ['an item deleted', active, undefined],
    ])('%s publishes nothing', (_name, before, after) => {
      expect(eventFor(before, after)).toBeUndefined();
    });
  });

  it('gives a redelivered record the same eventId, and another write another one', () => {
    const first = record(undefined, active);
    const again = { ...first };
    const a = deriveLifecycleEvent(connectionChangeOf(first, OBSERVED));
    const b = deriveLifecycleEvent(connectionChangeOf(again, OBSERVED + 60_000));
    expect(a?.detail.eventId).toMatch(/^[0-9a-f]{64}$/);
    expect(b?.detail.eventId).toBe(a?.detail.eventId);
    const later = eventFor(activeItem({ version: 6 }), activeItem({ version: 7, grantedAt: GRANTED + 1 }));
    expect(later?.detail.eventId).not.toBe(a?.detail.eventId);
  });

  it('reads the record as Lambda delivers it too (binary as base64 text, time in epoch seconds)', () => {
    const image = marshall(activeItem());
    const lambdaImage = {
      ...image,
      sealedTokens: { B: Buffer.from(`${CANARY_ACCESS}`).toString('base64') },
    };
    const event = deriveLifecycleEvent(
      connectionChangeOf(
        {
          eventName: 'INSERT',
          dynamodb: {
            NewImage: lambdaImage,
            SequenceNumber: '1',
            ApproximateCreationDateTime: OBSERVED / 1000,
          },
        },
        0,
      ),
    );
    expect(event?.type).toBe('Connection Created');
  });

  it('never carries a token, sealed or legacy plaintext, into an event or its log line', async () => {
    const legacy = activeItem({ accessToken: CANARY_ACCESS, refreshToken: CANARY_REFRESH, version: 3 });
    const records = [
      record(undefined, active),
      record(activeItem({ version: 2 }), { ...legacy, grantedAt: GRANTED + DAY }),
      record(legacy, withoutTokenSet(legacy, { status: 'RECONNECT_REQUIRED', version: 4 })),
    ];
    const telemetry = new CapturingTelemetry();
    const seen: LifecycleEvent[] = [];
    const publisher: LifecycleEventPublisher = {
      publish: async (events) => {
        seen.push(...events);
        return events.map(() => true);
      },
    };
    await publishLifecycleEvents(sequencedChangesOf(records, OBSERVED), { publisher, telemetry });
    expect(seen.map((e) => e.type)).toEqual([
      'Connection Created',
      'Connection Reconnected',
      'Connection Reconnect Required',
    ]);
    const everything = JSON.stringify({ seen, logged: telemetry.events });
    for (const canary of [CANARY_ACCESS, CANARY_REFRESH, 'CANARY']) expect(everything).not.toContain(canary);
  });
});

describe('given a batch of stream records to publish', () => {
  const created = record(undefined, activeItem({ realmId: 'A' }));
  const refresh = record(activeItem({ realmId: 'B' }), activeItem({ realmId: 'B', version: 2 }));
  const disconnected = record(
    activeItem({ realmId: 'C' }),
    withoutTokenSet(activeItem({ realmId: 'C' }), { status: 'DISCONNECTED', version: 2 }),
  );
  const reconnected = record(
    activeItem({ realmId: 'D' }),
    activeItem({ realmId: 'D', version: 2, grantedAt: GRANTED + DAY }),
  );
  const batch = sequencedChangesOf([created, refresh, disconnected, reconnected], OBSERVED);

  it('publishes one event per lifecycle change, in stream order, each logged as CONNECTION_EVENT', async () => {
    const telemetry = new CapturingTelemetry();
    const result = await publishLifecycleEvents(batch, {
      publisher: { publish: async (events) => events.map(() => true) },
      telemetry,
    });
    expect(result.firstFailedSequenceNumber).toBeUndefined();
    expect(result.published.map((e) => [e.type, e.detail.realmId])).toEqual([
      ['Connection Created', 'A'],
      ['Connection Disconnected', 'C'],
      ['Connection Reconnected', 'D'],
    ]);
    expect(telemetry.events.map((e) => [e.code, e.message])).toEqual([
      ['CONNECTION_EVENT', 'Connection Created'],
      ['CONNECTION_EVENT', 'Connection Disconnected'],
      ['CONNECTION_EVENT', 'Connection Reconnected'],
    ]);
  });

  it('names the record of the first refused event, so it and every later record are read again', async () => {
    const telemetry = new CapturingTelemetry();
    const result = await publishLifecycleEvents(batch, {
      publisher: { publish: async () => [true, false, true] },
      telemetry,
    });
    expect(result.published.map((e) => e.detail.realmId)).toEqual(['A']);
    expect(result.firstFailedSequenceNumber).toBe(disconnected.dynamodb?.SequenceNumber);
    expect(telemetry.codes()).toEqual(['CONNECTION_EVENT', 'CONNECTION_EVENT_NOT_PUBLISHED']);
  });

  it('names the first record with an event when the publisher fails outright', async () => {
    const telemetry = new CapturingTelemetry();
    const result = await publishLifecycleEvents(batch, {
      publisher: {
        publish: async () => {
          throw new Error('network down');
        },
      },
      telemetry,
    });
    expect(result.published).toEqual([]);
    expect(result.firstFailedSequenceNumber).toBe(created.dynamodb?.SequenceNumber);
    expect(telemetry.events[0]?.fields).toMatchObject({ error: 'Error', pendingEvents: 3 });
  });
});

describe('the EventBridge publisher', () => {
  const eventBridge = mockClient(EventBridgeClient);
  beforeEach(() => eventBridge.reset());

  const events: LifecycleEvent[] = Array.from({ length: 12 }, (_, index) => ({
    type: 'Connection Created',
    detail: {
      eventId: lifecycleEventId('Connection Created', `R${index}`, 1),
      realmId: `R${index}`,
      qboEnvironment: 'sandbox',
      occurredAt: new Date(GRANTED).toISOString(),
    },
  }));

  it('puts events on the bus ten at a time, with the source, detail type and detail', async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map((_, index) => ({ EventId: `e${index}` })),
    }));
    const accepted = await new EventBridgePublisher('bus-1', new EventBridgeClient({})).publish(events);
    expect(accepted).toEqual(events.map(() => true));
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 2]);
    expect(calls[0]?.args[0].input.Entries?.[0]).toEqual({
      EventBusName: 'bus-1',
      Source: EVENT_SOURCE,
      DetailType: 'Connection Created',
      Detail: JSON.stringify(events[0]?.detail),
      Time: new Date(GRANTED),
    });
  });

  it('reports a refused entry (FailedEntryCount) and sends nothing after it', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [
        { EventId: 'e0' },
        { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
        ...Array.from({ length: 8 }, (_, i) => ({ EventId: `e${i + 2}` })),
      ],
    });
    const accepted = await new EventBridgePublisher('bus-1', new EventBridgeClient({})).publish(events);
    expect(accepted).toEqual([true, false]);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
  });
});

describe('the stream consumer Lambda', () => {
  const created = record(undefined, activeItem({ realmId: 'E' }));
  const disconnected = record(
    activeItem({ realmId: 'F' }),
    withoutTokenSet(activeItem({ realmId: 'F' }), { status: 'DISCONNECTED', version: 2 }),
  );
  const event = { Records: [created, disconnected] } as unknown as DynamoDBStreamEvent;
  const context = { functionName: 'events', awsRequestId: 'r' } as unknown as Context;

  it.each<[string, readonly boolean[], { itemIdentifier: string }[]]>([
    ['accepts every event: no failures', [true, true], []],
    [
      'reports the first refused record as the batch item failure',
      [true, false],
      [{ itemIdentifier: disconnected.dynamodb?.SequenceNumber ?? '' }],
    ],
  ])('%s', async (_name, answers, failures) => {
    const telemetry = new CapturingTelemetry();
    const handler = createLifecycleEventsHandler(
      { publisher: () => ({ publish: async () => answers }), telemetry, clock: () => OBSERVED },
      createPowertoolsTelemetry('test'),
    );
    const writes = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await handler(event, context)).toEqual({ batchItemFailures: failures });
    } finally {
      writes.mockRestore();
    }
  });
});
