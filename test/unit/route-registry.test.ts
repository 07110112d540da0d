/**
 * The route registry is the one list of routes: each names an entry that exists, fits API
 * Gateway's limit, and is the one the README documents; the local server and CDK read it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HANDLER_NAMES, matchRoute, ROUTES } from '../../lambdas/routes';
import { HANDLER_ENTRIES } from '../../lib/project-paths';

const ROOT = join(__dirname, '..', '..');

function readmeRouteKeys(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Routes'));
  const table = section.slice(0, section.indexOf('\n## ', 5));
  return [...table.matchAll(/^\| `((?:GET|POST|DELETE|PUT) [^`]+)`/gm)].map((m) => m[1] ?? '');
}

describe('the route registry', () => {
  it.each(HANDLER_NAMES)('%s: its entry file exists and exports a handler', (name) => {
    const entry = HANDLER_ENTRIES[name];
    expect(existsSync(entry)).toBe(true);
    expect(readFileSync(entry, 'utf8')).toMatch(/export const handler\b/);
  });

  it.each(HANDLER_NAMES)('C4: %s times out under API Gateway 29 s, with a second to spare', (name) => {
    expect(ROUTES[name].timeoutSeconds + 1).toBeLessThanOrEqual(29);
  });

  it('is exactly the README route table', () => {
    expect(readmeRouteKeys().sort()).toEqual(
      HANDLER_NAMES.map((n) => `${ROUTES[n].method} ${ROUTES[n].path}`).sort(),
    );
  });

  it('matches request paths the way API Gateway does, parameters one segment each', () => {
    expect(matchRoute('/connect')?.name).toBe('connect');
    expect(matchRoute('/callback')?.name).toBe('callback');
    expect(matchRoute('/outcome/connected')).toMatchObject({
      name: 'outcome',
      parameters: { kind: 'connected' },
    });
    expect(matchRoute('/outcome/a/b')).toBeUndefined();
    expect(matchRoute('/outcome/')).toBeUndefined();
    expect(matchRoute('/connect/')).toBeUndefined();
    expect(matchRoute('/nope')).toBeUndefined();
  });
});
