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

/** Removes control characters and bounds the length of any text that may have come from outside (F2). */
export function cleanText(value: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').slice(0, max);
}
