/**
 * The failures every flow can meet before it reaches Intuit, each as one log line with a registered
 * code (which counts its metric) and one result the edge renders (docs/design.md invariant 6).
 */
import type { ConfigError, CredentialsUnavailableError, StorageUnavailableError } from './errors';
import { newReference } from './flow-identifiers';
import type { FlowResult } from './flow-results';
import type { Telemetry } from './telemetry';

/** G5: "not available yet", and a log line that says exactly what to fix. */
export function notConfigured(telemetry: Telemetry, error: ConfigError): FlowResult {
  const reference = newReference();
  telemetry.record({ code: 'CONFIG_INVALID', fields: { problems: error.problems.join(' | '), reference } });
  return { kind: 'unavailable', reason: 'not-configured', reference };
}

/** G1: DynamoDB failed after the SDK's bounded retries, before anything reached Intuit. */
export function storageUnavailable(
  telemetry: Telemetry,
  error: StorageUnavailableError,
  message: string,
): FlowResult {
  const reference = newReference();
  telemetry.record({
    code: 'STORAGE_UNAVAILABLE',
    message,
    fields: { operation: error.operation, awsError: error.awsErrorName, reference },
  });
  return { kind: 'unavailable', reason: 'try-again', reference };
}

/** G5: Secrets Manager throttled or unreachable: "try again", its own metric, not ConfigError. */
export function credentialsUnavailable(telemetry: Telemetry, error: CredentialsUnavailableError): FlowResult {
  const reference = newReference();
  telemetry.record({
    code: 'SECRETS_UNAVAILABLE',
    fields: { source: error.source, awsError: error.awsErrorName, reference },
  });
  return { kind: 'unavailable', reason: 'try-again', reference };
}
