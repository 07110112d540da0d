/**
 * One source for each log code (docs/design.md invariant 6): the registry says a code's level and
 * metrics, the README's table must say the same, every code is logged somewhere in the handlers,
 * and every metric an alarm or the dashboard watches is one that something emits.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_CODES, METRICS, TIMING_METRICS, GAUGE_METRICS } from '../../lambdas/core/telemetry-codes';
import type { LogCode } from '../../lambdas/core/telemetry-codes';

const ROOT = join(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Rows of the README's "Log codes and metrics" table: code -> { level, metrics }. */
function readmeRows(): Map<string, { level: string; metrics: string[] }> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Log codes and metrics'));
  const table = section.slice(0, section.indexOf('\n## ', 5));
  const rows = new Map<string, { level: string; metrics: string[] }>();
  for (const line of table.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !cells[1]?.startsWith('`')) continue;
    const codes = [...(cells[1] ?? '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1] ?? '');
    const metrics = [...(cells[3] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1] ?? '');
    for (const code of codes) rows.set(code, { level: cells[2] ?? '', metrics });
  }
  return rows;
}

describe('the log-code registry', () => {
  const codes = Object.keys(LOG_CODES) as LogCode[];

  it.each(codes)('%s is in the README table with the same level and metrics', (code) => {
    const row = readmeRows().get(code);
    expect(row).toBeDefined();
    expect(row?.level).toBe(LOG_CODES[code].level);
    // Timings and gauges are recorded beside a code, not counted by it.
    const timings = (row?.metrics ?? []).filter((m) =>
      ([...TIMING_METRICS, ...GAUGE_METRICS] as readonly string[]).includes(m),
    );
    expect((row?.metrics ?? []).filter((m) => !timings.includes(m)).sort()).toEqual(
      [...LOG_CODES[code].metrics].sort(),
    );
  });

  it('the README table names no code the registry does not have', () => {
    for (const code of readmeRows().keys()) expect(codes).toContain(code);
  });

  it.each(codes)('%s is logged by some handler code', (code) => {
    const handlerSources = sources(join(ROOT, 'lambdas'))
      .filter((path) => !path.endsWith('telemetry-codes.ts'))
      .map((path) => readFileSync(path, 'utf8'))
      .join('\n');
    expect(handlerSources).toContain(`'${code}'`);
  });

  it('every metric an alarm or the dashboard names is emitted by a code or recorded as a timing', () => {
    const emitted = new Set<string>([
      ...Object.values(LOG_CODES).flatMap((s) => s.metrics),
      ...TIMING_METRICS,
      ...GAUGE_METRICS,
    ]);
    const infra = sources(join(ROOT, 'lib'))
      .map((path) => readFileSync(path, 'utf8'))
      .join('\n');
    const watched = new Set([...infra.matchAll(/METRICS\.([A-Za-z]+)/g)].map((m) => m[1] ?? ''));
    expect(watched.size).toBeGreaterThan(5);
    for (const name of watched) {
      expect(Object.keys(METRICS)).toContain(name);
      expect(emitted).toContain(name);
    }
  });
});
