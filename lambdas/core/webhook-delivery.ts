/**
 * Webhooks for apps outside AWS: each lifecycle event POSTed to the app's URL, signed the Standard
 * Webhooks way (the id is the event's eventId, so the receiver dedupes redeliveries with it). One
 * attempt is one POST; who retries differs (an SQS queue's redelivery in AWS, a loop with backoff
 * locally), so the attempt and its log line are here and the retry policy is the caller's.
 */
import type { LifecycleEvent } from './lifecycle-events';
import type { Telemetry } from './telemetry';

/** The body the app receives: the Standard Webhooks payload shape (type, timestamp, data). */
export interface WebhookPayload {
  readonly type: LifecycleEvent['type'];
  readonly timestamp: string;
  readonly data: LifecycleEvent['detail'];
}

export function webhookPayloadOf(event: LifecycleEvent): WebhookPayload {
  return { type: event.type, timestamp: event.detail.occurredAt, data: event.detail };
}

/** What one POST came to. */
export type WebhookAttempt =
  | { readonly kind: 'delivered'; readonly status: number }
  /** The app answered something other than 2xx. */
  | { readonly kind: 'refused'; readonly status: number }
  /** No answer in time, or no connection. */
  | { readonly kind: 'unreachable'; readonly error: string };

/** Sends one signed POST (adapters/webhook-sender.ts). */
export interface WebhookSender {
  send(eventId: string, body: string): Promise<WebhookAttempt>;
}

/** One delivery attempt, logged; true when the app took it. */
export async function attemptWebhookDelivery(
  event: LifecycleEvent,
  attempt: number,
  deps: { readonly sender: WebhookSender; readonly telemetry: Telemetry },
): Promise<boolean> {
  const result = await deps.sender.send(event.detail.eventId, JSON.stringify(webhookPayloadOf(event)));
  const fields = {
    type: event.type,
    eventId: event.detail.eventId,
    realmId: event.detail.realmId,
    attempt,
    ...(result.kind === 'unreachable' ? { error: result.error } : { status: result.status }),
  };
  if (result.kind === 'delivered') {
    deps.telemetry.record({ code: 'WEBHOOK_DELIVERED', fields });
    return true;
  }
  deps.telemetry.record({ code: 'WEBHOOK_DELIVERY_FAILED', fields });
  return false;
}

/**
 * Delivers with retries: after each failed attempt waits the next delay of `backoffMs`, and gives up
 * after the last (logged as WEBHOOK_DELIVERY_ABANDONED).
 */
export async function deliverWebhookWithRetries(
  event: LifecycleEvent,
  deps: {
    readonly sender: WebhookSender;
    readonly telemetry: Telemetry;
    readonly sleep: (ms: number) => Promise<void>;
    readonly backoffMs: readonly number[];
    /** Stops retrying (the process is closing). */
    readonly stopped?: () => boolean;
  },
): Promise<boolean> {
  for (let attempt = 1; ; attempt += 1) {
    if (await attemptWebhookDelivery(event, attempt, deps)) return true;
    const delay = deps.backoffMs[attempt - 1];
    if (delay === undefined || deps.stopped?.() === true) {
      deps.telemetry.record({
        code: 'WEBHOOK_DELIVERY_ABANDONED',
        fields: {
          type: event.type,
          eventId: event.detail.eventId,
          realmId: event.detail.realmId,
          attempts: attempt,
        },
      });
      return false;
    }
    await deps.sleep(delay);
  }
}

/**
 * The Standard Webhooks key (`whsec_` + base64) of a secret value Secrets Manager generated. It
 * cannot generate that format itself, so the stack stores random url-safe characters and both the
 * deliverer and the app apply this one transform to the value they read: the key's bytes are the
 * value's UTF-8 bytes.
 */
export function webhookSigningKeyOf(secretValue: string): string {
  if (secretValue.length < MIN_WEBHOOK_SECRET_LENGTH)
    throw new Error(`a webhook secret needs at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`);
  return `whsec_${Buffer.from(secretValue, 'utf8').toString('base64')}`;
}

/** 43 characters of [A-Za-z0-9] carry more than 256 bits, as the 32 random bytes of a usual key. */
export const MIN_WEBHOOK_SECRET_LENGTH = 43;

/** The first redelivery's delay; each next one doubles, up to {@link MAX_REDELIVERY_DELAY_SECONDS}. */
export const FIRST_REDELIVERY_DELAY_SECONDS = 30;
export const MAX_REDELIVERY_DELAY_SECONDS = 3600;
/**
 * Receives of one event before it goes to the dead-letter queue: the delays between them add up to
 * just over six hours (see {@link totalRedeliverySeconds}), long enough to ride out an app's outage.
 */
export const WEBHOOK_MAX_RECEIVES = 13;

/** How long to hide a message after its `receiveCount`-th failed delivery. */
export function redeliveryDelaySeconds(receiveCount: number): number {
  const doublings = Math.max(0, Math.min(receiveCount - 1, 20));
  return Math.min(FIRST_REDELIVERY_DELAY_SECONDS * 2 ** doublings, MAX_REDELIVERY_DELAY_SECONDS);
}

/** The time a message spends waiting between its first and its last receive. */
export function totalRedeliverySeconds(maxReceives: number): number {
  let total = 0;
  for (let receive = 1; receive < maxReceives; receive += 1) total += redeliveryDelaySeconds(receive);
  return total;
}
