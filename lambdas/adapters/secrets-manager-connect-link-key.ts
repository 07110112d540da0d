/**
 * The connect-link secret (A5, I1) from Secrets Manager through Powertools' SecretsProvider, like
 * the client credentials: one fetch per cold start, cached for a bounded age. The secret is the
 * stack's own generated one; the derived keys never leave the process.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { ConnectLinkKeys, ConnectLinkKeySource } from '../core/connect-links';
import { connectLinkSecretBytes, deriveConnectLinkKeys } from '../core/connect-links';
import { ConfigError, CredentialsUnavailableError } from '../core/errors';

/** Errors that mean the secret is missing or unreadable: a configuration to fix, not a retry. */
const CONFIGURATION_ERRORS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'AccessDenied',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
  'UnrecognizedClientException',
]);

export interface SecretsManagerConnectLinkKeyOptions {
  /** Name or ARN of the secret (CONNECT_LINK_KEY_SECRET_ID). */
  readonly secretId: string;
  /** Injectable for tests (aws-sdk-client-mock). */
  readonly client?: SecretsManagerClient;
  /** Seconds a fetched value is reused. @default 300 */
  readonly maxAgeSeconds?: number;
}

export class SecretsManagerConnectLinkKeySource implements ConnectLinkKeySource {
  private readonly provider: SecretsProvider;
  private derived: { readonly secret: string; readonly keys: ConnectLinkKeys } | undefined;

  constructor(private readonly options: SecretsManagerConnectLinkKeyOptions) {
    this.provider = new SecretsProvider(
      options.client !== undefined ? { awsSdkV3Client: options.client } : {},
    );
  }

  async get(): Promise<ConnectLinkKeys> {
    const source = 'the connect-link key secret';
    let raw: unknown;
    try {
      raw = await this.provider.get(this.options.secretId, { maxAge: this.options.maxAgeSeconds ?? 300 });
    } catch (error) {
      const name = awsErrorName(error);
      if (!CONFIGURATION_ERRORS.has(name)) throw new CredentialsUnavailableError(source, name, error);
      throw new ConfigError([`${source} could not be read (${name}); check the function's IAM policy`]);
    }
    if (typeof raw !== 'string') throw new ConfigError([`${source} must be a text secret`]);
    // HKDF once per secret value, not per request.
    if (this.derived?.secret === raw) return this.derived.keys;
    const bytes = connectLinkSecretBytes(raw, source);
    if (typeof bytes === 'string') throw new ConfigError([bytes]);
    this.derived = { secret: raw, keys: deriveConnectLinkKeys(bytes) };
    return this.derived.keys;
  }
}

/** A key given directly (the local server: CONNECT_LINK_KEY, or one generated per run). */
export class StaticConnectLinkKeySource implements ConnectLinkKeySource {
  private readonly keys: ConnectLinkKeys;

  constructor(secret: Uint8Array) {
    this.keys = deriveConnectLinkKeys(secret);
  }

  async get(): Promise<ConnectLinkKeys> {
    return this.keys;
  }
}

function awsErrorName(error: unknown): string {
  if (!(error instanceof Error)) return 'UnknownError';
  if (error.name === 'GetParameterError' && error.cause instanceof Error) return error.cause.name;
  return error.name;
}
