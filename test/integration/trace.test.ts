/**
 * `npm run trace` against DynamoDB Local: real flows through the local stack (one connected, one
 * refused by Intuit), then their stories by reference, code-hash prefix and realm, and through the
 * command line with --local. Never a token or a code in what it prints.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import {
  formatTrace,
  logsInsightsQuery,
  parseTraceQuery,
  TraceInputError,
  traceFromTables,
} from '../../bin/operator/trace';
import type { TraceResult } from '../../bin/operator/trace';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { codeOf, consentedCallback, get } from '../support/http-flow';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

const ROOT = join(__dirname, '..', '..');
const REALM = '4620816365171234567';
let stack: TestStack;
let output: CapturedOutput | undefined;
let client: DynamoDBDocumentClient;
let connected: { code: string; reference: string; state: string };
let refused: { code: string; reference: string; state: string };

beforeAll(async () => {
  output = captureOutput();
  stack = await startTestStack({ emulator: { realmId: REALM } });
  client = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.dynamoDbEndpoint }),
  );

  const first = await consentedCallback(stack.url, stack.emulator);
  const ok = await get(first.url, first.flow.cookie);
  expect(ok.status).toBe(303);
  const okEntry = await stack.flowItem(`CODE#${sha256Hex(codeOf(first.url))}`);
  connected = { code: codeOf(first.url), reference: String(okEntry?.['reference']), state: first.flow.state };

  stack.emulator.setFault({ mode: 'invalid-client', times: 1 });
  const second = await consentedCallback(stack.url, stack.emulator);
  const failed = await get(second.url, second.flow.cookie);
  expect(failed.status).toBe(303);
  refused = {
    state: second.flow.state,
    code: codeOf(second.url),
    reference: new URL(failed.location ?? '', stack.url).searchParams.get('ref') ?? '',
  };
});

afterAll(async () => {
  client?.destroy();
  await stack?.close();
  output?.restore();
});

const trace = (
  kind: 'reference' | 'code-hash' | 'realm',
  value: string,
  maxItemsScanned?: number,
): Promise<TraceResult> =>
  traceFromTables(
    client,
    stack.tables,
    parseTraceQuery(kind, value),
    maxItemsScanned !== undefined ? { maxItemsScanned } : {},
  );

function printed(result: TraceResult): string {
  return formatTrace(result, Date.now()).join('\n');
}

describe('trace by the reference a user quotes from a failure page', () => {
  it('tells the story of that flow: started, claimed with its age, FAILED (invalid_client)', async () => {
    expect(refused.reference).toMatch(/^[A-Z2-9]{8}$/);
    const result = await trace('reference', refused.reference.toLowerCase());
    expect(result.flows).toHaveLength(1);
    expect(result.flows[0]).toMatchObject({
      reference: refused.reference,
      realmId: REALM,
      status: 'FAILED',
      reason: 'invalid_client',
      codeHashPrefix: sha256Hex(refused.code).slice(0, 12),
    });
    const text = printed(result);
    expect(text).toMatch(/\/connect started the flow \(state hash [0-9a-f]{12}…\)/);
    expect(text).toMatch(/\/callback claimed the code, flow age \d+\.\d s/);
    expect(text).toContain('outcome: FAILED (invalid_client)');
  });
});

describe('trace by a code-hash prefix from a log line', () => {
  it('finds the connected flow from 8 hex characters and shows the connection without tokens', async () => {
    const result = await trace('code-hash', sha256Hex(connected.code).slice(0, 8));
    expect(result.flows.map((f) => [f.reference, f.status])).toEqual([[connected.reference, 'CONNECTED']]);
    expect(result.connection).toMatchObject({ realmId: REALM, qboEnvironment: 'sandbox' });
    expect(result.connection).not.toHaveProperty('accessToken');
    expect(result.connection).not.toHaveProperty('refreshToken');
    expect(printed(result)).toMatch(
      new RegExp(`Connection of realm ${REALM}: connected \\S+, Intuit sandbox, access token until`),
    );
  });
});

describe('trace by realm', () => {
  it('lists every flow of the company, oldest first, and its stored connection', async () => {
    const result = await trace('realm', REALM);
    expect(result.flows.map((f) => f.status)).toEqual(['CONNECTED', 'FAILED']);
    expect(result.connection?.realmId).toBe(REALM);
  });

  it('never prints a token, a code or a state', async () => {
    const connection = await stack.openedConnection(REALM);
    const text = JSON.stringify(await trace('realm', REALM)) + printed(await trace('realm', REALM));
    for (const secret of [
      connection?.['accessToken'],
      connection?.['refreshToken'],
      connected.code,
      refused.code,
    ]) {
      expect(typeof secret).toBe('string');
      expect(text).not.toContain(String(secret));
    }
  });

  it('an unknown company: nothing found, and says where else to look', async () => {
    const result = await trace('realm', '1');
    expect(result.flows).toEqual([]);
    expect(printed(result)).toContain('No stored connection for realm 1.');
    expect(printed(result)).toContain('--logs also searches the log lines');
  });
});

describe('the scan', () => {
  it('is bounded: it stops at the limit and says so', async () => {
    const result = await trace('realm', REALM, 1);
    expect(result.scanned).toBe(1);
    expect(result.truncated).toBe(true);
    expect(printed(result)).toContain('stopped at the scan limit: raise --scan-limit');
  });
});

describe('input and the Logs Insights query', () => {
  it('refuses anything that is not a reference, hex prefix or realm id', () => {
    expect(() => parseTraceQuery('reference', 'AB"; drop')).toThrow(TraceInputError);
    expect(() => parseTraceQuery('code-hash', 'abc')).toThrow(/8 to 64 hex characters/);
    expect(() => parseTraceQuery('realm', '12a')).toThrow(/digits only/);
  });

  it('asks for the lines of the reference and of the code hash the ledger knows', async () => {
    const result = await trace('reference', refused.reference);
    const query = logsInsightsQuery(result.query, result.flows);
    expect(query).toContain(
      `| filter reference = "${refused.reference}" or codeHashPrefix = "${sha256Hex(refused.code).slice(0, 12)}"`,
    );
    expect(query).toMatch(
      /^fields @timestamp, level, code, message, reference, codeHashPrefix, realmId, intuitTid, flowAgeMs/,
    );
  });
});

describe('the command line (--local)', () => {
  it('prints the story and exits 0; exits 1 when nothing is found', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'bin/trace.ts',
            '--local',
            '--table-prefix',
            stack.tables.flow.replace(/-flows$/, ''),
            ...args,
          ],
          {
            cwd: ROOT,
            env: {
              PATH: process.env['PATH'] ?? '',
              HOME: process.env['HOME'] ?? '/tmp',
              DYNAMODB_ENDPOINT: stack.dynamoDbEndpoint,
            },
          },
        );
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.once('exit', (code) => resolve({ code, stdout }));
      });
    const found = await run(['--ref', refused.reference]);
    expect(found.code).toBe(0);
    expect(found.stdout).toMatch(
      new RegExp(`^Trace of reference ${refused.reference}: 1 flow\\(s\\) in the ledger`),
    );
    expect(found.stdout).toContain('outcome: FAILED (invalid_client)');
    const missing = await run(['--realm', '99']);
    expect(missing.code).toBe(1);
  });
});
