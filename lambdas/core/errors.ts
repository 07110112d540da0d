/**
 * Typed failures of this service. Each carries a stable `code` (from the telemetry vocabulary) and
 * only fields that are safe to log; anything raw (an SDK error, an HTTP response) is kept in a
 * non-enumerable `cause` so that logging the error cannot leak it.
 */
import type { LogCode } from './telemetry-codes';

abstract class ConnectorError extends Error {
  abstract readonly code: LogCode;
  constructor(message: string, cause?: unknown) {
    super(message);
    this.name = new.target.name;
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }
}

/** Configuration or credentials are missing, placeholder or inconsistent. `problems` says what to fix. */
export class ConfigError extends ConnectorError {
  readonly code = 'CONFIG_INVALID' as const;
  constructor(readonly problems: readonly string[]) {
    super(`Configuration is not usable: ${problems.join('; ')}`);
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
