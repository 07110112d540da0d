/**
 * The failures every flow can meet before it reaches Intuit, each as one page, one log line
 * with a registered code and one metric (DESIGN.md invariant 6).
 */
import type { ServiceConfig } from './config';
import type { ConfigError, CredentialsUnavailableError, StorageUnavailableError } from './errors';
import { newReference } from './flow-identifiers';
import type { HttpResponse } from './http-responses';
import { pageResponse } from './http-responses';
import type { BaseRuntime, FlowDependencies } from './runtime';
import { isHttps, pageContext } from './runtime';
import { METRICS } from './telemetry-codes';

/** G5: a page that says "not yet", a metric, and a log line that says exactly what to fix. */
export function notConfigured(
  deps: FlowDependencies<BaseRuntime>,
  error: ConfigError,
  config?: ServiceConfig,
): HttpResponse {
  const reference = newReference();
  deps.telemetry.record({
    code: 'CONFIG_INVALID',
    fields: { problems: error.problems.join(' | '), reference },
  });
  return pageResponse(503, 'not-configured', pageContext(deps, config, reference), isHttps(config));
}

/** G1: DynamoDB failed after the SDK's bounded retries, before anything reached Intuit. */
export function storageUnavailable(
  deps: FlowDependencies<BaseRuntime>,
  error: StorageUnavailableError,
  message: string,
  config: ServiceConfig,
): HttpResponse {
  const reference = newReference();
  deps.telemetry.record({
    code: 'STORAGE_UNAVAILABLE',
    message,
    fields: { operation: error.operation, awsError: error.awsErrorName, reference },
  });
  return pageResponse(503, 'try-again', pageContext(deps, config, reference), isHttps(config));
}

/** G5: Secrets Manager throttled or unreachable: "try again", its own metric, not ConfigError. */
export function credentialsUnavailable(
  deps: FlowDependencies<BaseRuntime>,
  error: CredentialsUnavailableError,
  config: ServiceConfig,
): HttpResponse {
  const reference = newReference();
  deps.telemetry.record({
    code: 'SECRETS_UNAVAILABLE',
    fields: { source: error.source, awsError: error.awsErrorName, reference },
  });
  return pageResponse(503, 'try-again', pageContext(deps, config, reference), isHttps(config));
}
