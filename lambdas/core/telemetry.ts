/**
 * The telemetry port: one structured log line with a registered code, counted by the code's
 * registered metrics, per event (docs/design.md invariant 6). Fields must never hold a code, state,
 * token, secret, cookie or raw query string (invariant 4); callers pass hashes and prefixes only.
 */
import type { LogCode, MetricName } from './telemetry-codes';

export type LogField = string | number | boolean | undefined;

export interface TelemetryEvent {
  readonly code: LogCode;
  /** @default the code's registered message */
  readonly message?: string;
  readonly fields?: Readonly<Record<string, LogField>>;
}

export interface Telemetry {
  /** Logs the event at its code's level and counts its code's metrics. */
  record(event: TelemetryEvent): void;
  /** A latency figure, in milliseconds. */
  timing(metric: MetricName, milliseconds: number): void;
  /** A count of things in a state at this moment (connections that need a user, ...). */
  gauge(metric: MetricName, value: number): void;
}
