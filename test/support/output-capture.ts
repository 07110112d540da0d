/**
 * Captures everything the process writes to stdout and stderr (Powertools' JSON logs and EMF
 * metrics included), for the log canary (docs/security.md F1) and assertions on log fields.
 */
export interface CapturedOutput {
  text(): string;
  /** Parsed JSON lines (logs and EMF metric blobs). */
  records(): Array<Record<string, unknown>>;
  /** Log lines (those with a `code` field). */
  logs(): Array<Record<string, unknown>>;
  /** Metric names emitted in EMF blobs, in order, one per emitted value. */
  metricNames(): string[];
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  const chunks: string[] = [];
  const originalOut = process.stdout.write.bind(process.stdout);
  const originalErr = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown, ...rest: unknown[]): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  };
  process.stdout.write = capture;
  process.stderr.write = capture;
  const records = (): Array<Record<string, unknown>> =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return {
    text: () => chunks.join(''),
    records,
    logs: () => records().filter((r) => typeof r['code'] === 'string'),
    metricNames: () =>
      records().flatMap((r) => {
        const aws = r['_aws'] as
          { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name: string }> }> } | undefined;
        const names = aws?.CloudWatchMetrics?.flatMap((m) => m.Metrics ?? []).map((m) => m.Name) ?? [];
        return names.flatMap((name) => {
          const value = r[name];
          return Array.isArray(value) ? value.map(() => name) : [name];
        });
      }),
    restore: () => {
      process.stdout.write = originalOut;
      process.stderr.write = originalErr;
    },
  };
}
