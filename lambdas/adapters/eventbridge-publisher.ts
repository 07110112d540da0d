/**
 * Lifecycle events onto the stack's EventBridge bus. PutEvents takes at most 10 entries a request
 * and can accept some and refuse others (FailedEntryCount, an ErrorCode per entry): each entry's
 * answer is returned, and nothing after the first refused entry is sent, since the stream reads
 * from that record again anyway.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { LifecycleEvent } from '../core/lifecycle-events';
import { EVENT_SOURCE } from '../core/lifecycle-events';
import type { LifecycleEventPublisher } from '../core/lifecycle-publishing';

/** EventBridge's limit of entries per PutEvents request. */
export const PUT_EVENTS_MAX_ENTRIES = 10;

export function eventBridgeEntryOf(event: LifecycleEvent, eventBusName: string): PutEventsRequestEntry {
  return {
    EventBusName: eventBusName,
    Source: EVENT_SOURCE,
    DetailType: event.type,
    Detail: JSON.stringify(event.detail),
    Time: new Date(event.detail.occurredAt),
  };
}

export class EventBridgePublisher implements LifecycleEventPublisher {
  constructor(
    private readonly eventBusName: string,
    private readonly client: EventBridgeClient = new EventBridgeClient({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true },
    }),
  ) {}

  async publish(events: readonly LifecycleEvent[]): Promise<readonly boolean[]> {
    const accepted: boolean[] = [];
    for (let start = 0; start < events.length; start += PUT_EVENTS_MAX_ENTRIES) {
      const chunk = events.slice(start, start + PUT_EVENTS_MAX_ENTRIES);
      const answer = await this.client.send(
        new PutEventsCommand({ Entries: chunk.map((event) => eventBridgeEntryOf(event, this.eventBusName)) }),
      );
      const entries = answer.Entries ?? [];
      for (const [index] of chunk.entries()) {
        const entry = entries[index];
        const ok =
          (answer.FailedEntryCount ?? 0) === 0 ||
          (entry?.EventId !== undefined && entry.ErrorCode === undefined);
        accepted.push(ok);
        if (!ok) return accepted;
      }
    }
    return accepted;
  }
}
