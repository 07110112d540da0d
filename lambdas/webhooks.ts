/** Lambda entry for the webhook queue: each lifecycle event POSTed, signed, to the app's webhook URL. */
import { SecretsManagerWebhookKeySource } from './adapters/secrets-manager-webhook-key';
import { SqsMessageVisibility } from './adapters/sqs-webhook-queue';
import { StandardWebhookSender } from './adapters/webhook-sender';
import { ConfigError } from './core/errors';
import { once } from './core/runtime';
import { awsTelemetry } from './handlers/aws-settings';
import { createWebhookDeliveryHandler } from './handlers/webhook-factories';

/** Bounds one POST, well inside the function's timeout (lambdas/routes.ts). */
const WEBHOOK_REQUEST_TIMEOUT_MS = 10_000;

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new ConfigError([`${name} is not set`]);
  return value;
}

const keySource = once(() => new SecretsManagerWebhookKeySource({ secretId: required('WEBHOOK_SECRET_ID') }));
const maxReceives = Number(process.env['WEBHOOK_MAX_RECEIVES']);
const telemetry = awsTelemetry(process.env);
export const handler = createWebhookDeliveryHandler(
  {
    sender: async () =>
      new StandardWebhookSender({
        url: required('WEBHOOK_URL'),
        secret: await keySource().get(),
        timeoutMs: WEBHOOK_REQUEST_TIMEOUT_MS,
      }),
    visibility: once(() => new SqsMessageVisibility(required('WEBHOOK_QUEUE_URL'))),
    telemetry,
    // Without a valid count every failure is final: the queue's redrive still bounds the retries.
    maxReceives: Number.isInteger(maxReceives) && maxReceives > 0 ? maxReceives : 1,
  },
  telemetry,
);
