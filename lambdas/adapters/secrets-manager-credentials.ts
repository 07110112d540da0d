/**
 * Client credentials from Secrets Manager (F3), through Powertools' SecretsProvider: one fetch per
 * cold start, cached for a bounded age so a fixed or rotated secret is picked up without a deploy.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { ClientCredentials, CredentialsSource, QboEnvironment } from '../core/config';
import { validateCredentials } from '../core/config';
import { ConfigError, CredentialsUnavailableError } from '../core/errors';

/**
 * Errors that mean the secret is missing, unreadable or unusable: a configuration to fix (G5).
 * Anything else (throttling, a 5xx, a timeout, a network error) is Secrets Manager being unable to
 * answer right now: "try again", its own metric, and no ConfigError alarm.
 */
const CONFIGURATION_ERRORS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'AccessDenied',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
  'UnrecognizedClientException',
  'TransformParameterError',
]);

export interface SecretsManagerCredentialsOptions {
  /** Name or ARN of the secret holding `{"clientId","clientSecret","environment"}`. */
  readonly secretId: string;
  /** The environment this deployment serves; a secret for the other one is refused. */
  readonly expectedEnvironment: QboEnvironment;
  /** Injectable for tests (aws-sdk-client-mock). */
  readonly client?: SecretsManagerClient;
  /** Seconds a fetched value is reused. @default 300 */
  readonly maxAgeSeconds?: number;
}

export class SecretsManagerCredentialsSource implements CredentialsSource {
  private readonly provider: SecretsProvider;
  private forceFetch = false;

  constructor(private readonly options: SecretsManagerCredentialsOptions) {
    this.provider = new SecretsProvider(
      options.client !== undefined ? { awsSdkV3Client: options.client } : {},
    );
  }

  async get(): Promise<ClientCredentials> {
    const source = `secret ${secretName(this.options.secretId)}`;
    let raw: unknown;
    try {
      raw = await this.provider.get(this.options.secretId, {
        maxAge: this.options.maxAgeSeconds ?? 300,
        transform: 'json',
        forceFetch: this.forceFetch,
      });
      this.forceFetch = false;
    } catch (error) {
      // Only the error's name: an SDK message can quote the request (F2). Powertools wraps every
      // SDK error in GetParameterError; the cause names the real one (AccessDenied, NotFound, ...).
      const name = awsErrorName(error);
      if (!CONFIGURATION_ERRORS.has(name)) throw new CredentialsUnavailableError(source, name, error);
      const hint =
        name === 'TransformParameterError'
          ? 'is not valid JSON'
          : `could not be read (${name}); check the function's IAM policy and the secret's existence`;
      throw new ConfigError([`${source} ${hint}`]);
    }
    return validateCredentials(raw, this.options.expectedEnvironment, source);
  }

  invalidate(): void {
    this.forceFetch = true;
  }
}

function awsErrorName(error: unknown): string {
  if (!(error instanceof Error)) return 'UnknownError';
  if (error.name === 'GetParameterError' && error.cause instanceof Error) return error.cause.name;
  return error.name;
}

/** The friendly name of a secret from its ARN (arn:...:secret:NAME-abcdef) or its name. */
function secretName(secretId: string): string {
  const match = /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(secretId);
  return match?.[1] ?? secretId;
}

/** Credentials given directly (local server: environment variables), through the same validation. */
export class StaticCredentialsSource implements CredentialsSource {
  constructor(
    private readonly raw: unknown,
    private readonly expectedEnvironment: QboEnvironment,
    private readonly sourceName: string,
  ) {}

  async get(): Promise<ClientCredentials> {
    return validateCredentials(this.raw, this.expectedEnvironment, this.sourceName);
  }

  /** Nothing cached: the values are given once, at start. */
  invalidate(): void {}
}
