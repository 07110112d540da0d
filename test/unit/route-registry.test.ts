/**
 * The route registry is the one list of routes: each names an entry that exists, fits API
 * Gateway's limit, and is the one the README documents; the local server and CDK read it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FUNCTIONS,
  HANDLER_NAMES,
  HTTP_HANDLER_NAMES,
  matchRoute,
  ROUTE_NAMES,
  ROUTES,
} from '../../lambdas/routes';
import { HANDLER_ENTRIES } from '../../lib/project-paths';

const ROOT = join(__dirname, '..', '..');

function readmeRouteKeys(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Routes'));
  const table = section.slice(0, section.indexOf('\n## ', 5));
  return [...table.matchAll(/^\| `((?:GET|POST|DELETE|PUT|ANY) [^`]+)`/gm)].map((m) => m[1] ?? '');
}

describe('the route registry', () => {
  it.each(HANDLER_NAMES)('%s: its entry file exists and exports a handler', (name) => {
    const entry = HANDLER_ENTRIES[name];
    expect(existsSync(entry)).toBe(true);
    expect(readFileSync(entry, 'utf8')).toMatch(/export const handler\b/);
  });

  it.each(HTTP_HANDLER_NAMES)('C4: %s times out under API Gateway 29 s, with a second to spare', (name) => {
    expect(FUNCTIONS[name].timeoutSeconds + 1).toBeLessThanOrEqual(29);
  });

  it('serves every route with an HTTP function, and every HTTP function has a route', () => {
    const served = new Set(ROUTE_NAMES.map((n) => ROUTES[n].handler));
    expect([...served].sort()).toEqual([...HTTP_HANDLER_NAMES].sort());
  });

  it('is exactly the README route table', () => {
    expect(readmeRouteKeys().sort()).toEqual(
      ROUTE_NAMES.map((n) => `${ROUTES[n].method} ${ROUTES[n].path}`).sort(),
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

  it('H1: matches the app API by method, the specific route before the catch-all', () => {
    expect(matchRoute('/api/connections/123/access-token', 'POST')).toMatchObject({
      name: 'accessToken',
      parameters: { realmId: '123' },
    });
    expect(matchRoute('/api/connections/123', 'GET')?.name).toBe('getConnection');
    expect(matchRoute('/api/connections/123', 'DELETE')?.name).toBe('deleteConnection');
    expect(matchRoute('/api/connections', 'GET')?.name).toBe('listConnections');
    expect(matchRoute('/api/connections/123', 'PUT')?.name).toBe('apiFallback');
    expect(matchRoute('/api/anything/at/all', 'GET')?.name).toBe('apiFallback');
    expect(matchRoute('/connect', 'POST')).toBeUndefined();
    expect(
      ROUTE_NAMES.filter((n) => n !== 'apiFallback' && ROUTES[n].path.startsWith('/api/')).every(
        (n) => ROUTES[n].kind === 'api',
      ),
    ).toBe(true);
  });
});
