/**
 * The token client as deployed: bundled with the handlers' esbuild options (lib/handler-bundling.ts),
 * where axios's form-data, follow-redirects, proxy agent and proxy-from-env are replaced by small
 * modules of this repository. The unit tests run the unbundled axios; this file proves the bundle
 * behaves the same on the paths that decide a code's fate: tokens, a redirect that must not be
 * followed, a server that never answers, and a refused connection (the one safe retry).
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { IntuitTokenClient } from '../../lambdas/adapters/intuit-token-client';
import type { ClientCredentials } from '../../lambdas/core/config';
import { TokenEndpointError } from '../../lambdas/core/token-endpoint';
import { BUNDLE_ALIASES, esbuildBuildOptions } from '../../lib/handler-bundling';
import { PROJECT_ROOT } from '../../lib/project-paths';

const run = promisify(execFile);

const CREDENTIALS: ClientCredentials = {
  clientId: 'bundle-test-client',
  clientSecret: 'bundle-test-secret',
  environment: 'sandbox',
};
const TOKEN_BODY = JSON.stringify({
  token_type: 'bearer',
  access_token: 'bundled-access-token',
  refresh_token: 'bundled-refresh-token',
  expires_in: 3600,
  x_refresh_token_expires_in: 8_726_400,
});

/** What one exchange came to, comparable across the two builds. */
type Outcome =
  | { readonly ok: true; readonly accessToken: string }
  | {
      readonly ok: false;
      readonly name: string;
      readonly kind: string;
      readonly status?: number;
      readonly transportCode?: string;
    };

interface Scenario {
  readonly label: string;
  readonly tokenEndpoint: string;
  readonly timeoutMs: number;
}

/** Runs in a fresh `node` against the bundle: the same calls, printed as JSON. */
const RUNNER = `const [bundle, scenariosJson, credentialsJson] = process.argv.slice(2);
const { IntuitTokenClient } = await import(bundle);
const outcomes = [];
for (const scenario of JSON.parse(scenariosJson)) {
  const client = new IntuitTokenClient({
    tokenEndpoint: scenario.tokenEndpoint,
    revocationEndpoint: scenario.tokenEndpoint,
    redirectUri: 'https://connect.example.com/callback',
  });
  try {
    const { tokens } = await client.exchangeCode('a-code', JSON.parse(credentialsJson), scenario.timeoutMs);
    outcomes.push({ ok: true, accessToken: tokens.accessToken });
  } catch (error) {
    outcomes.push({
      ok: false,
      name: error.name,
      kind: error.kind,
      ...(error.details?.status !== undefined ? { status: error.details.status } : {}),
      ...(error.details?.transportCode !== undefined ? { transportCode: error.details.transportCode } : {}),
    });
  }
}
process.stdout.write(JSON.stringify(outcomes));
`;

let workDir: string;
let bundleUrl: string;
let runnerPath: string;
let metafile: Metafile;
const servers: Server[] = [];
const hits = { token: 0, redirect: 0, redirectTarget: 0, silent: 0 };
let scenarios: Scenario[];
/** A proxy that is not there: a client that used it would fail to connect. */
let deadProxy: string;

async function listening(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'token-client-bundle-'));
  const outfile = join(workDir, 'intuit-token-client.mjs');
  const result = await build({
    ...esbuildBuildOptions(),
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [join(PROJECT_ROOT, 'lambdas', 'adapters', 'intuit-token-client.ts')],
    outfile,
    metafile: true,
    logLevel: 'silent',
  });
  metafile = result.metafile;
  bundleUrl = pathToFileURL(outfile).href;
  runnerPath = join(workDir, 'runner.mjs');
  await writeFile(runnerPath, RUNNER);

  const token = await listening((req, res) => {
    req.resume();
    hits.token++;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(TOKEN_BODY);
  });
  const redirectTarget = await listening((req, res) => {
    req.resume();
    hits.redirectTarget++;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(TOKEN_BODY);
  });
  const redirect = await listening((req, res) => {
    req.resume();
    hits.redirect++;
    res.writeHead(302, { Location: `${redirectTarget}/oauth2/v1/tokens/bearer` }).end();
  });
  const silent = await listening((req) => {
    req.resume();
    hits.silent++;
  });
  deadProxy = await closedPortUrl();
  scenarios = [
    { label: 'tokens', tokenEndpoint: `${token}/oauth2/v1/tokens/bearer`, timeoutMs: 2000 },
    { label: '302', tokenEndpoint: `${redirect}/oauth2/v1/tokens/bearer`, timeoutMs: 2000 },
    { label: 'never answers', tokenEndpoint: `${silent}/oauth2/v1/tokens/bearer`, timeoutMs: 300 },
    { label: 'refused', tokenEndpoint: `${await closedPortUrl()}/oauth2/v1/tokens/bearer`, timeoutMs: 2000 },
  ];
}, 60_000);

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'] as const;

async function bundledOutcomes(): Promise<Outcome[]> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
  for (const name of PROXY_VARIABLES) env[name] = deadProxy;
  const { stdout } = await run(
    process.execPath,
    [runnerPath, bundleUrl, JSON.stringify(scenarios), JSON.stringify(CREDENTIALS)],
    { env, cwd: workDir, timeout: 30_000 },
  );
  return JSON.parse(stdout) as Outcome[];
}

async function unbundledOutcomes(): Promise<Outcome[]> {
  const saved = PROXY_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const name of PROXY_VARIABLES) process.env[name] = deadProxy;
  try {
    const outcomes: Outcome[] = [];
    for (const scenario of scenarios) {
      const client = new IntuitTokenClient({
        tokenEndpoint: scenario.tokenEndpoint,
        redirectUri: 'https://connect.example.com/callback',
      });
      try {
        const { tokens } = await client.exchangeCode('a-code', CREDENTIALS, scenario.timeoutMs);
        outcomes.push({ ok: true, accessToken: tokens.accessToken });
      } catch (error) {
        if (!(error instanceof TokenEndpointError)) throw error;
        outcomes.push({
          ok: false,
          name: error.name,
          kind: error.kind,
          ...(error.details.status !== undefined ? { status: error.details.status } : {}),
          ...(error.details.transportCode !== undefined
            ? { transportCode: error.details.transportCode }
            : {}),
        });
      }
    }
    return outcomes;
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('the token client bundled as deployed', () => {
  it('carries axios but none of the packages it replaces', () => {
    const packages = new Set(
      Object.keys(metafile.inputs).flatMap((input) =>
        [...input.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)].map((m) => m[1]!).slice(-1),
      ),
    );
    expect(packages.has('axios')).toBe(true);
    for (const replaced of [...Object.keys(BUNDLE_ALIASES), 'mime-db', 'debug', 'agent-base']) {
      expect(packages.has(replaced)).toBe(false);
    }
  });

  it('classifies tokens, a 302, a silent server and a refused connection exactly as the unbundled client', async () => {
    const before = { ...hits };
    const bundled = await bundledOutcomes();
    const afterBundled = { ...hits };
    const unbundled = await unbundledOutcomes();

    expect(bundled).toEqual(unbundled);
    expect(bundled).toEqual([
      { ok: true, accessToken: 'bundled-access-token' },
      { ok: false, name: 'TokenEndpointError', kind: 'ambiguous', status: 302 },
      { ok: false, name: 'TokenEndpointError', kind: 'ambiguous', transportCode: 'TIMEOUT' },
      { ok: false, name: 'TokenEndpointError', kind: 'unreachable', transportCode: 'ECONNREFUSED' },
    ]);
    // One request per exchange that may have arrived, the redirect never followed, no proxy used
    // although the environment names one.
    expect({
      token: afterBundled.token - before.token,
      redirect: afterBundled.redirect - before.redirect,
      redirectTarget: afterBundled.redirectTarget - before.redirectTarget,
      silent: afterBundled.silent - before.silent,
    }).toEqual({ token: 1, redirect: 1, redirectTarget: 0, silent: 1 });
    expect(hits.redirectTarget).toBe(0);
  }, 60_000);
});
