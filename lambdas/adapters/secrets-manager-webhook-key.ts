/**
 * The webhook signing key from the stack's generated secret, through Powertools' SecretsProvider
 * like the other secrets: one fetch per cold start, cached for a bounded age.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { ConfigError } from '../core/errors';
import { webhookSigningKeyOf } from '../core/webhook-delivery';

export interface SecretsManagerWebhookKeyOptions {
  /** Name or ARN of the secret (WEBHOOK_SECRET_ID). */
  readonly secretId: string;
  /** Injectable for tests (aws-sdk-client-mock). */
  readonly client?: SecretsManagerClient;
  /** Seconds a fetched value is reused. @default 300 */
  readonly maxAgeSeconds?: number;
}

export class SecretsManagerWebhookKeySource {
  private readonly provider: SecretsProvider;

  constructor(private readonly options: SecretsManagerWebhookKeyOptions) {
    this.provider = new SecretsProvider(
      options.client !== undefined ? { awsSdkV3Client: options.client } : {},
    );
  }

  /** The `whsec_` key; the SDK's error (its name only reaches the logs) when the read fails. */
  async get(): Promise<string> {
    const raw: unknown = await this.provider.get(this.options.secretId, {
      maxAge: this.options.maxAgeSeconds ?? 300,
    });
    if (typeof raw !== 'string') throw new ConfigError(['the webhook secret must be a text secret']);
    try {
      return webhookSigningKeyOf(raw);
    } catch (error) {
      throw new ConfigError([error instanceof Error ? error.message : 'the webhook secret is unusable']);
    }
  }
}
