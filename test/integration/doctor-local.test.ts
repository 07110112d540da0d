/**
 * `npm run doctor -- --local` against a running local stack (the one `npm start` runs), in process
 * and through the command line: one line per check, JSON for programs, exit code 1 on a failure.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runLocalDoctor } from '../../bin/operator/doctor-checks';
import type { DoctorReport } from '../../bin/operator/doctor-checks';
import { httpIntuitAccess } from '../../bin/operator/intuit-access';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const ROOT = join(__dirname, '..', '..');
let stack: TestStack;
let output: CapturedOutput | undefined;

beforeAll(async () => {
  // The stack's own log lines (one CONNECT_STARTED per doctor run) are not this test's subject.
  output = captureOutput();
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.close();
  output?.restore();
});

function sharedDynamoDb(): Record<string, string> {
  return { DYNAMODB_ENDPOINT: process.env['DYNAMODB_ENDPOINT'] ?? '' };
}

function doctorCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/doctor.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...sharedDynamoDb() },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

function statuses(report: DoctorReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
}

describe('doctor --local against a running local stack', () => {
  it('passes what can be checked locally and skips, with a reason, what cannot', async () => {
    const report = await runLocalDoctor({
      url: stack.url,
      env: sharedDynamoDb(),
      intuit: httpIntuitAccess(),
      probe: true,
    });
    expect(statuses(report)).toEqual({
      settings: 'pass',
      connector: 'pass',
      'redirect-uri': 'pass',
      credentials: 'skip',
      'intuit-discovery': 'skip',
      probe: 'skip',
      'outcome-pages': 'pass',
      dynamodb: 'pass',
      'alarms-and-logs': 'skip',
    });
    expect(report.failed).toBe(0);
    expect(report.checks.find((c) => c.id === 'redirect-uri')?.detail).toBe(`${stack.url}/callback`);
    for (const check of report.checks.filter((c) => c.status === 'skip')) expect(check.detail).not.toBe('');
  });

  it('a flow opened at 127.0.0.1 is sent on to localhost by npm start; the check says so and which URL to open', async () => {
    const url = stack.url.replace('localhost', '127.0.0.1');
    const report = await runLocalDoctor({ url, env: {}, intuit: httpIntuitAccess(), probe: false });
    expect(report.checks.find((c) => c.id === 'connector')?.status).toBe('pass');
    expect(report.checks.find((c) => c.id === 'redirect-uri')).toMatchObject({
      status: 'pass',
      detail:
        `${stack.url}/callback; flows opened at 127.0.0.1 are sent on to localhost first, where the flow ` +
        `cookie comes back: open ${stack.url}/connect directly`,
    });
  });

  it('the command line: one plain line per check when not on a terminal, a summary, exit code 0', async () => {
    const { code, stdout } = await doctorCli(['--local', '--url', stack.url]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, -1).every((line) => /^(pass|skip) {2}\S/.test(line))).toBe(true);
    expect(lines.at(-1)).toBe(`5 passed, 0 failed, 4 skipped (local ${stack.url})`);
    // No colour and no progress line when stdout and stderr are pipes.
    expect(stdout).not.toContain('\x1b[');
  });

  it('--json: one JSON document a program can read', async () => {
    const { code, stdout } = await doctorCli(['--local', '--url', stack.url, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report).toMatchObject({ target: `local ${stack.url}`, passed: 5, failed: 0, skipped: 4 });
  });

  it('nothing listening: the connector check fails with its fix, and the exit code is 1', async () => {
    const { code, stdout } = await doctorCli(['--local', '--url', 'http://localhost:1']);
    expect(code).toBe(1);
    expect(stdout).toContain('FAIL  Connector answers              nothing answers at http://localhost:1\n');
    expect(stdout).toContain(
      '      fix: start it with npm start, or pass --url with the address it printed\n',
    );
  });

  it('neither --env nor --local: prints the usage and exits 2', async () => {
    const { code, stderr } = await doctorCli([]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^usage: npm run doctor -- --env <name>/);
  });
});
