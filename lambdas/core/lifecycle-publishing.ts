/**
 * Publishes the lifecycle events of a batch of stream records, in stream order (README "Lifecycle
 * events and webhooks"). Delivery is at least once: when an event is not accepted, the batch
 * reports the record it came from as the first failure, and the stream hands that record and every
 * later one to the next attempt (Lambda's partial batch response for streams; the local reader
 * does the same), so an event can be published twice but never skipped. Its `eventId` stays the
 * same, and consumers dedupe on it.
 */
import type { ConnectionChange, LifecycleEvent } from './lifecycle-events';
import { deriveLifecycleEvent } from './lifecycle-events';
import type { Telemetry } from './telemetry';

/** Where events go: EventBridge in AWS, the log and the webhook locally. */
export interface LifecycleEventPublisher {
  /** Publishes in order; resolves one flag per event, true when it was accepted. */
  publish(events: readonly LifecycleEvent[]): Promise<readonly boolean[]>;
}

/** A change with the stream position of the record it came from. */
export interface SequencedChange {
  readonly sequenceNumber: string;
  readonly change: ConnectionChange;
}

export interface PublishedBatch {
  /** Events accepted, in order. */
  readonly published: readonly LifecycleEvent[];
  /** The first record whose event was not accepted: it and every later record are to be read again. */
  readonly firstFailedSequenceNumber?: string;
}

export async function publishLifecycleEvents(
  changes: readonly SequencedChange[],
  deps: { readonly publisher: LifecycleEventPublisher; readonly telemetry: Telemetry },
): Promise<PublishedBatch> {
  const derived = changes.flatMap(({ sequenceNumber, change }) => {
    const event = deriveLifecycleEvent(change);
    return event === undefined ? [] : [{ sequenceNumber, event }];
  });
  if (derived.length === 0) return { published: [] };
  let accepted: readonly boolean[];
  let failure: string | undefined;
  try {
    accepted = await deps.publisher.publish(derived.map(({ event }) => event));
  } catch (error) {
    accepted = [];
    failure = error instanceof Error ? error.name : 'unknown';
  }
  const published: LifecycleEvent[] = [];
  for (const [index, { sequenceNumber, event }] of derived.entries()) {
    if (accepted[index] !== true) {
      deps.telemetry.record({
        code: 'CONNECTION_EVENT_NOT_PUBLISHED',
        fields: {
          type: event.type,
          eventId: event.detail.eventId,
          realmId: event.detail.realmId,
          pendingEvents: derived.length - index,
          ...(failure !== undefined ? { error: failure } : {}),
        },
      });
      return { published, firstFailedSequenceNumber: sequenceNumber };
    }
    published.push(event);
    deps.telemetry.record({
      code: 'CONNECTION_EVENT',
      message: event.type,
      fields: {
        type: event.type,
        eventId: event.detail.eventId,
        realmId: event.detail.realmId,
        tenantId: event.detail.tenantId,
        companyName: event.detail.companyName,
        qboEnvironment: event.detail.qboEnvironment,
        occurredAt: event.detail.occurredAt,
        reason: event.detail.reason,
      },
    });
  }
  return { published };
}
