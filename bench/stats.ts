/** Small statistics and Markdown-table helpers for the benchmark's output. */

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function kib(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}

export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

export function ratio(ours: number, reference: number): string {
  return reference > 0 && Number.isFinite(ours) ? `${(ours / reference).toFixed(2)}x` : 'n/a';
}

/** A Markdown table with padded columns, readable in a terminal and pasteable into the README; `right` lists right-aligned (numeric) columns. */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  right: readonly number[] = [],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3));
  const cell = (value: string, i: number): string =>
    right.includes(i) ? value.padStart(widths[i]!) : value.padEnd(widths[i]!);
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => cell(c, i)).join(' | ')} |`;
  // The same rule line prettier writes, so a pasted run survives `prettier --write` unchanged.
  const rule = `| ${widths.map((w, i) => (right.includes(i) ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}
