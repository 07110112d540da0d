/**
 * One Standard Webhooks POST: `webhook-id` (the eventId), `webhook-timestamp` (seconds, the time of
 * this attempt, so a retry hours later still passes the receiver's 5-minute tolerance) and
 * `webhook-signature` from the `standardwebhooks` package, over the exact body sent.
 */
import { Webhook } from 'standardwebhooks';
import type { WebhookAttempt, WebhookSender } from '../core/webhook-delivery';

export interface StandardWebhookSenderOptions {
  readonly url: string;
  /** `whsec_` followed by base64, as the package expects. */
  readonly secret: string;
  /** Bounds one attempt, connection included. @default 5000 */
  readonly timeoutMs?: number;
  readonly clock?: () => number;
}

export class StandardWebhookSender implements WebhookSender {
  private readonly signer: Webhook;

  constructor(private readonly options: StandardWebhookSenderOptions) {
    this.signer = new Webhook(options.secret);
  }

  async send(eventId: string, body: string): Promise<WebhookAttempt> {
    const at = new Date((this.options.clock ?? Date.now)());
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'qbo-connector-webhooks',
      'webhook-id': eventId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': this.signer.sign(eventId, at, body),
    };
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      return response.status >= 200 && response.status < 300
        ? { kind: 'delivered', status: response.status }
        : { kind: 'refused', status: response.status };
    } catch (error) {
      return { kind: 'unreachable', error: error instanceof Error ? error.name : 'unknown' };
    }
  }
}
