/**
 * README "Troubleshooting invalid_grant": every log code and metric the table names is one the
 * connector registers, so the table cannot send an operator looking for a line that never comes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_CODE_NAMES, METRICS } from '../../lambdas/core/telemetry-codes';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

function troubleshootingTable(): string[][] {
  const start = README.indexOf('### Troubleshooting `invalid_grant`');
  expect(start).toBeGreaterThan(-1);
  const section = README.slice(start, README.indexOf('\n### ', start + 1));
  const rows = section.split('\n').filter((line) => line.startsWith('|'));
  const [header, , ...body] = rows.map((row) =>
    row
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );
  expect(header).toEqual([
    'cause',
    'what the connector does',
    'what the user sees',
    'log code (metric)',
    'alarm',
    'what the operator does',
  ]);
  return body;
}

/** Backticked names in a cell: log codes are UPPER_SNAKE, metrics UpperCamel. */
function names(cell: string, pattern: RegExp): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '').filter((name) => pattern.test(name));
}

it('has a row for each cause: double exchange, retry, expiry, redirect URI, credentials, environment, reuse, and the refresh-time ones', () => {
  const causes = troubleshootingTable().map((row) => row[0] ?? '');
  for (const cause of [
    /double exchange/,
    /retry after a timeout/,
    /older than its lifetime/,
    /redirect URI mismatch/,
    /credential mismatch/,
    /environment mismatch/,
    /stored code reused/,
    /rotated refresh token/,
    /two refreshes at once/,
    /revoked/,
    /100 days/,
    /5-year cap/,
  ]) {
    expect(causes.some((c) => cause.test(c))).toBe(true);
  }
});

it('names only registered log codes and metrics', () => {
  const registeredCodes = new Set<string>(LOG_CODE_NAMES);
  const registeredMetrics = new Set<string>(Object.values(METRICS));
  const codes: string[] = [];
  const metrics: string[] = [];
  for (const row of troubleshootingTable()) {
    codes.push(...names(row[3] ?? '', /^[A-Z][A-Z_]+$/));
    metrics.push(
      ...names(row[3] ?? '', /^[A-Z][a-z][A-Za-z]+$/),
      ...names(row[4] ?? '', /^[A-Z][a-z][A-Za-z]+$/),
    );
  }
  expect(codes.length).toBeGreaterThan(5);
  expect(codes.filter((code) => !registeredCodes.has(code))).toEqual([]);
  expect(metrics.filter((metric) => !registeredMetrics.has(metric))).toEqual([]);
});

it('says plainly that token refresh is not built yet for each refresh-time cause', () => {
  for (const row of troubleshootingTable().filter((r) => (r[0] ?? '').startsWith('refresh:'))) {
    expect(row[1]).toMatch(/token refresh is not built yet/);
  }
});
