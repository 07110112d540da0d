import type { Duration } from 'aws-cdk-lib';
import { Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import {
  ENVIRONMENT_DIMENSION,
  METRIC_NAMESPACE,
  SERVICE_NAME,
  type MetricName,
} from '../../lambdas/core/telemetry-codes';

/**
 * The connector's own metrics as the handlers emit them: Powertools Metrics in EMF, namespace
 * `METRIC_NAMESPACE`, dimensions `service` and `Environment`. An alarm on any other dimension set
 * would watch a metric nobody writes, so every alarm and widget goes through here.
 */
export class ConnectorMetrics {
  constructor(
    private readonly envName: string,
    private readonly period: Duration,
  ) {}

  /** `name` summed over the period (counts) unless another statistic or period is asked for. */
  metric(name: MetricName, options: { statistic?: string; label?: string; period?: Duration } = {}): Metric {
    return new Metric({
      namespace: METRIC_NAMESPACE,
      metricName: name,
      dimensionsMap: { service: SERVICE_NAME, [ENVIRONMENT_DIMENSION]: this.envName },
      statistic: options.statistic ?? Stats.SUM,
      period: options.period ?? this.period,
      ...(options.label === undefined ? {} : { label: options.label }),
    });
  }
}
