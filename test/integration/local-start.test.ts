/**
 * `npm start` as a newcomer meets it: one process that prints the connect URL, serves the flow,
 * explains each start-up mistake in one line, and stops everything it started on Ctrl-C or
 * SIGTERM; DynamoDB Local never outlives it.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { get } from '../support/http-flow';
import { checkDynamoDbEndpoint } from '../../local/startup-checks';

const ROOT = join(__dirname, '..', '..');

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  /** stdout and stderr, interleaved as they arrived. */
  readonly output: () => string;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

/** `node --import tsx bin/local.ts`, the command `npm start` runs, or `npm start` itself. */
function start(env: Record<string, string>, command: 'node' | 'npm' = 'node'): Started {
  const [file, args] =
    command === 'npm'
      ? ['npm', ['start', '--silent']]
      : [process.execPath, ['--import', 'tsx', 'bin/local.ts']];
  const child = spawn(file, args, {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', PORT: '0', ...env },
  });
  let text = '';
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => ((text += chunk.toString()), (out += chunk.toString())));
  child.stderr.on('data', (chunk: Buffer) => ((text += chunk.toString()), (err += chunk.toString())));
  return { child, output: () => text, stdout: () => out, stderr: () => err };
}

/** The run's DynamoDB Local (jest globalSetup), so tests that need no JVM of their own start fast. */
function sharedDynamoDb(): Record<string, string> {
  return { DYNAMODB_ENDPOINT: process.env['DYNAMODB_ENDPOINT'] ?? '' };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function readyUrl(output: () => string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /^Ready: (http:\/\/localhost:\d+\/connect)$/m.exec(output());
    if (match?.[1] !== undefined) return match[1];
    if (Date.now() > deadline) throw new Error(`no Ready line:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** PIDs of the DynamoDB Local processes started under a process (tsx runs the app in a child). */
function dynamoDbLocalDescendants(rootPid: number | undefined): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  const rows = ps.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, ppid, ...args]) => ({ pid: Number(pid), ppid: Number(ppid), args: args.join(' ') }));
  const tree = new Set<number>(rootPid !== undefined ? [rootPid] : []);
  for (let grew = true; grew;) {
    grew = false;
    for (const row of rows) {
      if (tree.has(row.ppid) && !tree.has(row.pid)) {
        tree.add(row.pid);
        grew = true;
      }
    }
  }
  return rows
    .filter((row) => tree.has(row.pid) && row.args.includes('DynamoDBLocal.jar'))
    .map((row) => row.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('given a fresh machine with Java and no Intuit keys', () => {
  it('prints one Ready line, serves /connect through the emulator, and stops everything on Ctrl-C', async () => {
    const { child, output } = start({});
    const dynamo: number[] = [];
    try {
      const url = await readyUrl(output);
      dynamo.push(...dynamoDbLocalDescendants(child.pid));
      expect(dynamo).toHaveLength(1);
      const response = await get(url);
      expect(response.status).toBe(302);
      expect(response.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/connect\/oauth2\?/);
      // Logs are JSON lines on stdout, as in Lambda.
      expect(output()).toMatch(
        /^\{"level":"INFO","message":"Flow started; browser sent to Intuit".*"code":"CONNECT_STARTED"/m,
      );
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited(child)).toBe(0);
    expect(dynamo.filter(alive)).toEqual([]);
  });
});

describe('given a machine without Java', () => {
  it('explains in one line what to install or that DYNAMODB_ENDPOINT can be set', async () => {
    const { child, output } = start({ PATH: '/nonexistent' });
    expect(await exited(child)).toBe(1);
    const lines = output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Java 17\+.*openjdk-17-jre-headless.*DYNAMODB_ENDPOINT/);
  });
});

describe('given placeholder Intuit keys', () => {
  it('G5: starts, but /connect answers 503 "not available yet", counts ConfigError and says what to fix', async () => {
    const { child, output } = start({
      QBO_CLIENT_ID: 'REPLACE_ME',
      QBO_CLIENT_SECRET: 'REPLACE_ME',
      DYNAMODB_ENDPOINT: process.env['DYNAMODB_ENDPOINT'] ?? '',
    });
    try {
      const url = await readyUrl(output);
      const response = await get(url);
      expect(response.status).toBe(503);
      expect(response.body).toContain('Connecting to QuickBooks is not available yet');
      expect(response.location).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(output()).toMatch(/"code":"CONFIG_INVALID".*still holds the placeholder clientId/);
      expect(output()).toMatch(/"ConfigError"/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited(child)).toBe(0);
  });
});

describe('given npm start run by a process manager or an IDE', () => {
  it('stops everything, DynamoDB Local included, on SIGTERM to the npm process, as on Ctrl-C', async () => {
    const { child, output } = start({}, 'npm');
    const dynamo: number[] = [];
    try {
      await readyUrl(output);
      dynamo.push(...dynamoDbLocalDescendants(child.pid));
      expect(dynamo).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
    await waitFor('DynamoDB Local to stop', () => dynamo.filter(alive).length === 0);
    expect(dynamoDbLocalDescendants(child.pid)).toEqual([]);
  });

  it('never leaves DynamoDB Local behind, even when the node process is killed outright', async () => {
    const { child, output } = start({});
    const dynamo: number[] = [];
    try {
      await readyUrl(output);
      dynamo.push(...dynamoDbLocalDescendants(child.pid));
      expect(dynamo).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
    }
    await exited(child);
    await waitFor('DynamoDB Local to die with its parent', () => dynamo.filter(alive).length === 0);
    expect(dynamo.filter(alive)).toEqual([]);
  });
});

describe('given a start-up mistake', () => {
  it.each([
    [
      'a client secret with a trailing newline',
      { QBO_CLIENT_ID: 'ABtest', QBO_CLIENT_SECRET: 'secret\n' },
      /^Configuration problem: QBO_CLIENT_ID\/QBO_CLIENT_SECRET clientSecret has leading or trailing whitespace/,
    ],
    ['PORT=abc', { PORT: 'abc' }, /^PORT must be a port number from 0 to 65535, got "abc"$/],
    ['production without keys', { QBO_ENVIRONMENT: 'production' }, /emulator is sandbox-only/],
    [
      'production keys with the http localhost redirect URI',
      { QBO_ENVIRONMENT: 'production', QBO_CLIENT_ID: 'ABtest', QBO_CLIENT_SECRET: 'secret' },
      /only https redirect URIs for Production keys.*https tunnel/,
    ],
    [
      'a redirect URI whose path is not /callback',
      { QBO_REDIRECT_URI: 'http://localhost:3000/oauth/callback' },
      /^QBO_REDIRECT_URI must end in \/callback/,
    ],
  ])('%s: exits 1 with one line on stderr and no Ready line', async (_mistake, env, line) => {
    const { child, stdout, stderr } = start(env);
    expect(await exited(child)).toBe(1);
    expect(stdout()).toBe('');
    const lines = stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
  });

  it('an unreachable DYNAMODB_ENDPOINT: one line naming the variable, not a stack trace', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const { child, stdout, stderr } = start({ DYNAMODB_ENDPOINT: endpoint });
    expect(await exited(child)).toBe(1);
    expect(stdout()).toBe('');
    expect(stderr().trim().split('\n')).toEqual([
      `DYNAMODB_ENDPOINT=${endpoint} does not answer (ECONNREFUSED): start DynamoDB there, ` +
        'or unset DYNAMODB_ENDPOINT and npm start runs DynamoDB Local itself',
    ]);
  });

  it('a port held by an earlier copy of the connector: names it and its pid', async () => {
    const port = String(await freePort());
    const first = start({ ...sharedDynamoDb(), PORT: port });
    try {
      await readyUrl(first.output);
      const second = start({ ...sharedDynamoDb(), PORT: port });
      expect(await exited(second.child)).toBe(1);
      expect(second.stderr().trim().split('\n')).toEqual([
        `Port ${port} is held by an earlier copy of this connector (pid ${first.child.pid}): ` +
          `stop it (Ctrl-C in its terminal, or kill ${first.child.pid}), or set PORT to a free port`,
      ]);
    } finally {
      first.child.kill('SIGINT');
    }
    expect(await exited(first.child)).toBe(0);
  });
});

describe('given a flow opened at 127.0.0.1 while the redirect URI says localhost', () => {
  it('warns on stderr that the flow cookie will not come back, and names the URL to open', async () => {
    const { child, output, stderr } = start(sharedDynamoDb());
    try {
      const url = new URL(await readyUrl(output));
      // The Host header a browser sends for http://127.0.0.1:<port>/connect.
      const answer = await new Promise<{ status: number; location: string | undefined }>(
        (resolve, reject) => {
          const req = request(
            {
              host: 'localhost',
              port: url.port,
              path: '/connect?x=1',
              headers: { host: `127.0.0.1:${url.port}` },
            },
            (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, location: res.headers.location });
            },
          );
          req.once('error', reject);
          req.end();
        },
      );
      // Sent to the redirect URI's host, where the flow cookie will come back to the callback.
      expect(answer).toEqual({ status: 307, location: `http://localhost:${url.port}/connect?x=1` });
      await waitFor('the warning', () => stderr().includes('Warning:'));
      expect(stderr()).toContain(
        `Warning: /connect was opened at 127.0.0.1 but the redirect URI is on localhost: the browser would not ` +
          `send the flow cookie back to the callback, so it was sent to http://localhost:${url.port}/connect; ` +
          'open that address directly',
      );
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited(child)).toBe(0);
  });
});

describe('checkDynamoDbEndpoint against DynamoDB Local', () => {
  it('accepts a DynamoDB', async () => {
    await expect(checkDynamoDbEndpoint(process.env['DYNAMODB_ENDPOINT'] ?? '')).resolves.toBeUndefined();
  });
});
