/**
 * The webhook queue's side of a retry: a message whose delivery failed is hidden for the backoff's
 * delay (ChangeMessageVisibility) instead of the queue's fixed visibility timeout.
 */
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { MessageVisibility } from '../handlers/webhook-factories';

export class SqsMessageVisibility implements MessageVisibility {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true },
    }),
  ) {}

  async hide(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
