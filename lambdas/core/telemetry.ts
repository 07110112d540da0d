/**
 * The telemetry port: one structured log line with a registered code, and at most one metric, per
 * event (DESIGN.md invariant 6). Fields must never hold a code, state, token, secret, cookie or raw
 * query string (invariant 4); callers pass hashes and prefixes only.
 */
import type { LogCode, MetricName } from './telemetry-codes';

export type LogField = string | number | boolean | undefined;

export interface TelemetryEvent {
  readonly code: LogCode;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly metrics?: readonly MetricName[];
  readonly fields?: Readonly<Record<string, LogField>>;
}

export interface Telemetry {
  record(event: TelemetryEvent): void;
  /** A latency figure, in milliseconds. */
  timing(metric: MetricName, milliseconds: number): void;
}
