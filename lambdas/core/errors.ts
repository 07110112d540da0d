/**
 * Typed failures of this service. Each carries a stable `code` (from the telemetry vocabulary) and
 * only fields that are safe to log. The error that caused one is reduced to its class name and
 * transport code: an AxiosError holds the Authorization header and the request body, and
 * `util.inspect` or a log formatter would print a kept `cause` whole (F2).
 */
import type { LogCode } from './telemetry-codes';

export interface SafeCause {
  readonly name: string;
  readonly code?: string;
}

/** What may be kept of an underlying error: its class name and a short upper-case code. */
export function safeCause(error: unknown): SafeCause {
  const name = error instanceof Error ? error.name : typeof error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? { name, code } : { name };
}

abstract class ConnectorError extends Error {
  abstract readonly code: LogCode;
  constructor(message: string, cause?: unknown) {
    super(message);
    this.name = new.target.name;
    if (cause !== undefined)
      Object.defineProperty(this, 'cause', { value: safeCause(cause), enumerable: false });
  }
}

/** Configuration or credentials are missing, placeholder or inconsistent. `problems` says what to fix. */
export class ConfigError extends ConnectorError {
  readonly code = 'CONFIG_INVALID' as const;
  constructor(readonly problems: readonly string[]) {
    super(`Configuration is not usable: ${problems.join('; ')}`);
  }
}

/**
 * The claimant's lease passed and a replay recorded the code as UNKNOWN before the tokens could be
 * written: the tokens are dropped unstored (never revoked, C8), so every answer stays "failed".
 */
export class LeaseLostError extends ConnectorError {
  readonly code = 'TOKEN_STORE_FAILED' as const;
  constructor() {
    super('The exchange lease passed before the tokens were stored');
  }
}

/** DynamoDB could not be reached or kept throttling after the SDK's bounded retries. */
export class StorageUnavailableError extends ConnectorError {
  readonly code = 'STORAGE_UNAVAILABLE' as const;
  constructor(
    readonly operation: string,
    readonly awsErrorName: string,
    cause?: unknown,
  ) {
    super(`DynamoDB ${operation} failed (${awsErrorName})`, cause);
  }
}

/**
 * The credentials store (Secrets Manager) is throttled or unreachable: a "try again", not a
 * configuration error (G5). `awsErrorName` is the SDK error's name, nothing more (F2).
 */
export class CredentialsUnavailableError extends ConnectorError {
  readonly code = 'SECRETS_UNAVAILABLE' as const;
  constructor(
    readonly source: string,
    readonly awsErrorName: string,
    cause?: unknown,
  ) {
    super(`${source} could not be read right now (${awsErrorName})`, cause);
  }
}

/** A listing cursor that this service did not issue (altered or from another listing). */
export class InvalidCursorError extends ConnectorError {
  readonly code = 'API_REQUEST_REFUSED' as const;
  constructor() {
    super('cursor is not one this service issued');
  }
}
