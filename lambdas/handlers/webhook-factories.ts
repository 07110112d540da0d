/**
 * The webhook deliverer: the queue the lifecycle-event rule fills in, one signed POST per message
 * out. A failed POST hides its message for a delay that grows with its receive count, so an app
 * that is down is retried for hours, not hammered; after the last receive the queue moves the
 * message to its dead-letter queue.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';
import type { EventDetail, LifecycleEvent, LifecycleEventType } from '../core/lifecycle-events';
import { EVENT_SOURCE, LIFECYCLE_EVENT_TYPES } from '../core/lifecycle-events';
import type { Telemetry } from '../core/telemetry';
import type { WebhookSender } from '../core/webhook-delivery';
import { attemptWebhookDelivery, redeliveryDelaySeconds } from '../core/webhook-delivery';

/** Hides a received message for a while (SQS ChangeMessageVisibility). */
export interface MessageVisibility {
  hide(receiptHandle: string, seconds: number): Promise<void>;
}

export interface WebhookDeliveryDependencies {
  /** The signed sender; built once the signing key is read. */
  readonly sender: () => Promise<WebhookSender>;
  readonly visibility: () => MessageVisibility;
  readonly telemetry: Telemetry;
  /** The queue's maxReceiveCount: the receive after which a failure is final. */
  readonly maxReceives: number;
}

const EVENT_TYPES: ReadonlySet<string> = new Set(Object.values(LIFECYCLE_EVENT_TYPES));

/**
 * The lifecycle event an EventBridge rule put on the queue (the whole event envelope is the
 * message body: `detail-type` is the type, `detail` the detail as published); undefined for
 * anything else.
 */
export function lifecycleEventOfEnvelope(body: string): LifecycleEvent | undefined {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const { source, 'detail-type': type, detail } = envelope as Record<string, unknown>;
  if (source !== EVENT_SOURCE || typeof type !== 'string' || !EVENT_TYPES.has(type)) return undefined;
  if (typeof detail !== 'object' || detail === null) return undefined;
  const { eventId, realmId, occurredAt, qboEnvironment } = detail as Record<string, unknown>;
  if (
    typeof eventId !== 'string' ||
    typeof realmId !== 'string' ||
    typeof occurredAt !== 'string' ||
    typeof qboEnvironment !== 'string'
  )
    return undefined;
  return { type: type as LifecycleEventType, detail: detail as EventDetail };
}

export type WebhookDeliveryHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function createWebhookDeliveryHandler(
  deps: WebhookDeliveryDependencies,
  telemetry: PowertoolsTelemetry,
): WebhookDeliveryHandler {
  /** True when the message is done with (delivered, abandoned or undeliverable). */
  const deliver = async (record: SQSRecord, sender: WebhookSender): Promise<boolean> => {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount);
    const event = lifecycleEventOfEnvelope(record.body);
    if (event === undefined) {
      // Retrying cannot make it an event; the body is not logged (it is not ours to trust).
      deps.telemetry.record({
        code: 'WEBHOOK_DELIVERY_ABANDONED',
        fields: { messageId: record.messageId, reason: 'not a lifecycle event' },
      });
      return true;
    }
    if (await attemptWebhookDelivery(event, receiveCount, { sender, telemetry: deps.telemetry })) return true;
    if (receiveCount >= deps.maxReceives) {
      deps.telemetry.record({
        code: 'WEBHOOK_DELIVERY_ABANDONED',
        fields: {
          type: event.type,
          eventId: event.detail.eventId,
          realmId: event.detail.realmId,
          attempts: receiveCount,
        },
      });
      // Reported as failed, so the queue moves it to the dead-letter queue on its next receive.
      return false;
    }
    try {
      await deps.visibility().hide(record.receiptHandle, redeliveryDelaySeconds(receiveCount));
    } catch {
      // The queue's own visibility timeout then sets the next attempt: sooner, never lost.
    }
    return false;
  };

  const run = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const sender = await deps.sender();
    const failed: string[] = [];
    for (const record of event.Records) {
      if (!(await deliver(record, sender))) failed.push(record.messageId);
    }
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
  return middy(run)
    .use(injectLambdaContext(telemetry.logger, { resetKeys: true, logEvent: false }))
    .use(logMetrics(telemetry.metrics));
}
