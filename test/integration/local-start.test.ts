/**
 * `npm start` as a newcomer meets it: one process that prints the connect URL, serves the flow,
 * explains a missing Java in one line, and stops everything it started on Ctrl-C.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { get } from '../support/http-flow';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

function start(env: Record<string, string>): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawn(process.execPath, [TSX, 'bin/local.ts'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', PORT: '0', ...env },
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { child, output: () => text };
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
