/**
 * The telemetry port on Powertools for AWS Lambda: JSON log lines (Logger) and EMF metrics
 * (Metrics) in one namespace with an Environment dimension. Created once per container.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Telemetry, TelemetryEvent } from '../core/telemetry';
import type { MetricName } from '../core/telemetry-codes';
import { ENVIRONMENT_DIMENSION, logCodeSpec, METRIC_NAMESPACE, SERVICE_NAME } from '../core/telemetry-codes';

export interface PowertoolsTelemetry extends Telemetry {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * @param options.metrics false for a function that publishes no metrics (the outcome pages): its
 * events are logged, never counted. @default true
 */
export function createPowertoolsTelemetry(
  appEnv: string,
  options: { readonly metrics?: boolean } = {},
): PowertoolsTelemetry {
  const counting = options.metrics ?? true;
  const logger = new Logger({ serviceName: SERVICE_NAME, persistentKeys: { environment: appEnv } });
  const metrics = new Metrics({
    namespace: METRIC_NAMESPACE,
    serviceName: SERVICE_NAME,
    defaultDimensions: { [ENVIRONMENT_DIMENSION]: appEnv },
  });
  return {
    logger,
    metrics,
    record(event: TelemetryEvent): void {
      const spec = logCodeSpec(event.code);
      const fields: Record<string, unknown> = { code: event.code };
      for (const [key, value] of Object.entries(event.fields ?? {}))
        if (value !== undefined) fields[key] = value;
      logger[spec.level](event.message ?? spec.message, fields);
      if (counting) for (const metric of spec.metrics) metrics.addMetric(metric, MetricUnit.Count, 1);
    },
    timing(metric: MetricName, milliseconds: number): void {
      metrics.addMetric(metric, MetricUnit.Milliseconds, milliseconds);
    },
    gauge(metric: MetricName, value: number): void {
      metrics.addMetric(metric, MetricUnit.Count, value);
    },
  };
}
