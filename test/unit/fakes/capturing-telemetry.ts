/** A Telemetry that keeps every event, so tests can assert log codes, metrics and fields. */
import type { LogField, Telemetry, TelemetryEvent } from '../../../lambdas/core/telemetry';
import type { LogCode, LogLevel, MetricName } from '../../../lambdas/core/telemetry-codes';
import { logCodeSpec } from '../../../lambdas/core/telemetry-codes';

/** An event as the log line and the metrics would show it: the registry's level and metrics applied. */
export interface CapturedEvent {
  readonly code: LogCode;
  readonly level: LogLevel;
  readonly message: string;
  readonly metrics: readonly MetricName[];
  readonly fields?: Readonly<Record<string, LogField>>;
}

export class CapturingTelemetry implements Telemetry {
  readonly events: CapturedEvent[] = [];
  readonly timings: { metric: MetricName; milliseconds: number }[] = [];
  readonly gauges: { metric: MetricName; value: number }[] = [];

  record(event: TelemetryEvent): void {
    const spec = logCodeSpec(event.code);
    this.events.push({
      code: event.code,
      level: spec.level,
      message: event.message ?? spec.message,
      metrics: spec.metrics,
      ...(event.fields !== undefined ? { fields: event.fields } : {}),
    });
  }

  timing(metric: MetricName, milliseconds: number): void {
    this.timings.push({ metric, milliseconds });
  }

  gauge(metric: MetricName, value: number): void {
    this.gauges.push({ metric, value });
  }

  codes(): LogCode[] {
    return this.events.map((e) => e.code);
  }

  metrics(): MetricName[] {
    return this.events.flatMap((e) => e.metrics);
  }

  /** The only event with this code; fails the test if there is not exactly one. */
  single(code: LogCode): CapturedEvent {
    const matching = this.events.filter((e) => e.code === code);
    if (matching.length !== 1) {
      throw new Error(
        `expected exactly one ${code} event, got ${matching.length}: ${this.codes().join(', ')}`,
      );
    }
    return matching[0] as CapturedEvent;
  }

  /** Everything recorded, as one string, for canary checks (F1). */
  dump(): string {
    return JSON.stringify({ events: this.events, timings: this.timings, gauges: this.gauges });
  }
}
