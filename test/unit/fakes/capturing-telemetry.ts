/** A Telemetry that keeps every event, so tests can assert log codes, metrics and fields. */
import type { Telemetry, TelemetryEvent } from '../../../lambdas/core/telemetry';
import type { LogCode, MetricName } from '../../../lambdas/core/telemetry-codes';

export class CapturingTelemetry implements Telemetry {
  readonly events: TelemetryEvent[] = [];
  readonly timings: { metric: MetricName; milliseconds: number }[] = [];

  record(event: TelemetryEvent): void {
    this.events.push(event);
  }

  timing(metric: MetricName, milliseconds: number): void {
    this.timings.push({ metric, milliseconds });
  }

  codes(): LogCode[] {
    return this.events.map((e) => e.code);
  }

  metrics(): MetricName[] {
    return this.events.flatMap((e) => e.metrics ?? []);
  }

  /** The only event with this code; fails the test if there is not exactly one. */
  single(code: LogCode): TelemetryEvent {
    const matching = this.events.filter((e) => e.code === code);
    if (matching.length !== 1) {
      throw new Error(
        `expected exactly one ${code} event, got ${matching.length}: ${this.codes().join(', ')}`,
      );
    }
    return matching[0] as TelemetryEvent;
  }

  /** Everything recorded, as one string, for canary checks (F1). */
  dump(): string {
    return JSON.stringify({ events: this.events, timings: this.timings });
  }
}
