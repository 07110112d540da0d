/**
 * Lifecycle events: what happened to a connection, told to the app (README "Lifecycle events and
 * webhooks"). Derived from the connections table's change stream (old and new image of one write),
 * never from the code that wrote: every write reaches the stream once it is stored, so a process
 * that dies between its write and the publish loses no event, and "created" and "reconnected" are
 * told apart by the old image without an extra read in the callback.
 *
 * Pure: an adapter decodes the stream record into connections, without their tokens; nothing
 * here touches AWS, and only the fields listed in EventDetail reach an event.
 */
import { createHash } from 'node:crypto';
import type { Connection } from './connection-store';

/** EventBridge `source` of every lifecycle event. */
export const EVENT_SOURCE = 'qbo-connector';

/** EventBridge `detail-type`s, one per transition of a connection. */
export const LIFECYCLE_EVENT_TYPES = {
  created: 'Connection Created',
  reconnected: 'Connection Reconnected',
  reconnectRequired: 'Connection Reconnect Required',
  disconnected: 'Connection Disconnected',
  nearHardExpiry: 'Connection Near Hard Expiry',
} as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[keyof typeof LIFECYCLE_EVENT_TYPES];

/** What an event says; never a token. */
export interface EventDetail {
  /** Stable across redeliveries of the same change: consumers dedupe on it. */
  readonly eventId: string;
  readonly realmId: string;
  /** The app's tenant that connected the company; absent for unsigned flows. */
  readonly tenantId?: string;
  readonly companyName?: string;
  readonly qboEnvironment: string;
  /** ISO 8601. */
  readonly occurredAt: string;
  /** Why the connection needs its user (Reconnect Required only). */
  readonly reason?: string;
  /** ISO 8601: the grant's 5-year cap (Near Hard Expiry only). */
  readonly hardExpiresAt?: string;
}

export interface LifecycleEvent {
  readonly type: LifecycleEventType;
  readonly detail: EventDetail;
}

/** One change of a connection, decoded from the table's stream record (tokens never read). */
export interface ConnectionChange {
  /** Absent when the item held no connection before the write. */
  readonly previous?: Connection;
  /** Absent for a deletion. */
  readonly next?: Connection;
  /** When the stream saw the write, epoch ms (the record's approximate creation time). */
  readonly observedAt: number;
}

/**
 * Zero or one event for one change. Refreshes (a new version on the same grant), lease writes,
 * backoff records, legacy migrations and repeated disconnects are no event.
 */
export function deriveLifecycleEvent(change: ConnectionChange): LifecycleEvent | undefined {
  const { previous, next } = change;
  if (next === undefined) return undefined;
  switch (next.status) {
    case 'ACTIVE': {
      if (previous === undefined)
        return eventOf(LIFECYCLE_EVENT_TYPES.created, next, next.version, next.grantedAt);
      if (next.grantedAt > previous.grantedAt)
        return eventOf(LIFECYCLE_EVENT_TYPES.reconnected, next, next.version, next.grantedAt);
      // The keep-alive marks a grant once when it comes within 30 days of its cap.
      const cap = next.nearHardExpiryNotifiedFor;
      if (cap !== undefined && cap !== previous.nearHardExpiryNotifiedFor)
        return eventOf(LIFECYCLE_EVENT_TYPES.nearHardExpiry, next, cap, change.observedAt);
      return undefined;
    }
    case 'RECONNECT_REQUIRED':
      if (previous?.status === 'RECONNECT_REQUIRED') return undefined;
      return eventOf(LIFECYCLE_EVENT_TYPES.reconnectRequired, next, next.version, change.observedAt);
    case 'DISCONNECTED':
      if (previous === undefined || previous.status === 'DISCONNECTED') return undefined;
      return eventOf(
        LIFECYCLE_EVENT_TYPES.disconnected,
        next,
        next.version,
        next.disconnectedAt ?? change.observedAt,
      );
  }
}

/**
 * sha256 over the event type, the company and the write that caused it (the item's version, which
 * every transition bumps; for Near Hard Expiry, which bumps no version, the cap it is about), so a
 * redelivered stream record or a replayed batch yields the same id.
 */
export function lifecycleEventId(type: LifecycleEventType, realmId: string, version: number): string {
  return createHash('sha256').update(`${type}\n${realmId}\n${version}`, 'utf8').digest('hex');
}

function eventOf(
  type: LifecycleEventType,
  connection: Connection,
  version: number,
  occurredAt: number,
): LifecycleEvent {
  return {
    type,
    detail: {
      eventId: lifecycleEventId(type, connection.realmId, version),
      realmId: connection.realmId,
      ...(connection.tenantId !== undefined ? { tenantId: connection.tenantId } : {}),
      ...(connection.companyName !== undefined ? { companyName: connection.companyName } : {}),
      qboEnvironment: connection.qboEnvironment,
      occurredAt: new Date(occurredAt).toISOString(),
      ...(type === LIFECYCLE_EVENT_TYPES.reconnectRequired && connection.reconnectReason !== undefined
        ? { reason: connection.reconnectReason }
        : {}),
      ...(type === LIFECYCLE_EVENT_TYPES.nearHardExpiry && connection.nearHardExpiryNotifiedFor !== undefined
        ? { hardExpiresAt: new Date(connection.nearHardExpiryNotifiedFor).toISOString() }
        : {}),
    },
  };
}
