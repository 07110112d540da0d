/**
 * Callback load on one DynamoDB Local, for three systems: the connector (the local stack: API
 * Gateway emulation and the real handlers), the control (the naive handler doing the connector's
 * two transactions) and the naive handler (one PutItem). Everything is warmed to a steady state
 * first, then measured in alternating blocks (A, B, C, then B, C, A, ...), so that DynamoDB Local's
 * JIT and the machine's other load reach every system alike.
 */
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDbFlowLedger } from '../lambdas/adapters/dynamodb-flow-ledger';
import type { FlowLedger } from '../lambdas/core/flow-ledger';
import { ensureTables, injectTransactionConflicts, LOCAL_AWS } from '../local/dynamodb-local';
import type { TransactionConflictCounts } from '../local/dynamodb-local';
import { startIntuitEmulator } from '../local/intuit-emulator';
import type { IntuitEmulator } from '../local/intuit-emulator';
import { startLocalStack } from '../local/server';
import { consent, startFlow } from '../test/support/http-flow';
import { describeCounts, LoadClient, muffled, pool, RssSampler, Tally, total } from './load';
import type { CallbackResult } from './load';
import { startNaiveCallbackServer } from './reference/naive-callback-server';
import { ascending, fmt, mib, percentile, ratio, table } from './stats';

export interface LoadParameters {
  /** Flows per system in each measured phase. */
  readonly flows: number;
  readonly duplicates: number;
  readonly concurrency: number;
  /** Alternating rounds each measured phase is split into. */
  readonly rounds: number;
}

/** Flows per system in one warm-up block. */
const WARMUP_BLOCK_FLOWS = 60;
const MIN_WARMUP_BLOCKS = 6;
/** 2,400 flows per system: DynamoDB Local was seen still speeding up after 1,000. */
const MAX_WARMUP_BLOCKS = 40;
/** Steady: for every system, the mean p50 of its last 3 blocks within this of the 3 before. */
const STEADY_TOLERANCE = 0.15;
const STEADY_WINDOW = 3;
const WARMUP_DYNAMODB_ROUNDS = 300;
/** Share of the connector's TransactWriteItems cancelled with TransactionConflict in phase D. */
const CONFLICT_SHARE = 0.3;
/** The connector's in-flight poll (IN_FLIGHT_POLL_MS in lambdas/core/callback-flow.ts). */
const IN_FLIGHT_POLL_MS = 200;
/** Targets of the connector against the control, in phase A. */
const CONTROL_TARGETS = { p50: 1.05, cpu: 1.15 } as const;

/**
 * A full garbage collection before each measured block: otherwise a block pays for the garbage
 * its preparation left (a connector flow's /connect and consent allocate far more than a minted
 * code), and CPU per callback compares the preparations, not the callbacks.
 */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const log = (text = ''): void => console.log(text);
const heading = (text: string): void => log(`\n## ${text}\n`);

/** A callback to send: its URL and the cookie of the browser that started the flow. */
interface PreparedFlow {
  readonly url: string;
  readonly cookie: string;
  /** The company the flow connects; each flow has its own. */
  readonly realmId: string;
}

interface RevokedCount {
  revoked: number;
  checked: number;
  missing: number;
}

type SystemName = 'connector' | 'control' | 'naive';

interface System {
  readonly name: SystemName;
  readonly url: string;
  readonly dynamoRequests: Tally;
  exchanges(): number;
  prepare(count: number): Promise<PreparedFlow[]>;
  /** Of the flows' stored connections, those whose access token the emulator no longer accepts. */
  revoked(flows: readonly PreparedFlow[]): Promise<RevokedCount>;
}

interface PhaseResult {
  readonly system: SystemName;
  readonly callbacks: number;
  readonly flows: readonly PreparedFlow[];
  /** Per flow, its callbacks' results (one per duplicate). */
  readonly byFlow: ReadonlyArray<readonly CallbackResult[]>;
  readonly wallMs: number;
  readonly exchanges: number;
  readonly expectedExchanges: number;
  readonly dynamoDb: Map<string, number>;
  readonly logCodes: Map<string, number>;
  readonly peakRss: number;
  /** User + system CPU time of this process during the phase (server, emulator and load generator). */
  readonly cpuMs: number;
  /** The blocks this result was merged from, one per round, in round order. */
  readonly blocks?: readonly PhaseResult[];
  revoked?: RevokedCount;
}

const newRealmId = (): string => String(10n ** 15n + BigInt(`0x${randomBytes(6).toString('hex')}`));

export async function runCallbackLoad(dynamoDbEndpoint: string, parameters: LoadParameters): Promise<void> {
  const { flows, duplicates, concurrency, rounds } = parameters;
  const blockFlows = Math.max(1, Math.ceil(flows / rounds));
  const rss = new RssSampler(50);
  rss.start();
  const closers: Array<() => Promise<void>> = [];
  const client = new LoadClient();
  try {
    await warmUpDynamoDb(dynamoDbEndpoint);
    const conflictOptions = { share: 0 };
    let conflictCounts: TransactionConflictCounts | undefined;
    const connector = await startConnector(dynamoDbEndpoint, (ledger) => {
      conflictCounts = injectTransactionConflicts(ledger['client'], conflictOptions);
    });
    closers.push(connector.close);
    const control = await startNaive('control', dynamoDbEndpoint, concurrency);
    closers.push(control.close);
    const naive = await startNaive('naive', dynamoDbEndpoint, concurrency);
    closers.push(naive.close);
    const systems = [connector.system, control.system, naive.system];

    const run = (
      system: System,
      phaseFlows: readonly PreparedFlow[],
      perFlow: number,
      expected: number,
    ): Promise<PhaseResult> => runPhase(system, phaseFlows, perFlow, expected, concurrency, rss, client);

    const { value: warmup } = await muffled(() => warmUp(systems, run));
    printWarmUp(warmup);

    // A: first callbacks, all three systems in alternating blocks.
    const { value: phaseA } = await muffled(() =>
      alternate(systems, rounds, blockFlows, 1, 1, run, client, concurrency),
    );
    for (const result of phaseA.values()) {
      result.revoked = await systemOf(systems, result.system).revoked(result.flows);
    }
    printFirstCallbacks(phaseA, parameters);

    // B: replays of the connector's phase A callbacks, alternating blocks on connections opened
    // before and on a new client that opens them as the block starts; one unmeasured pass first.
    const connectorA = phaseA.get('connector')!;
    const { value: replays } = await muffled(async () => {
      await run(connector.system, connectorA.flows, duplicates, 0);
      const warm: PhaseResult[] = [];
      const cold: PhaseResult[] = [];
      let opened = 0;
      for (let round = 0; round < rounds; round++) {
        const slice = connectorA.flows.filter((_, i) => i % rounds === round);
        const runWarm = async (): Promise<void> => {
          opened = await client.open(connector.system.url, Math.min(concurrency, slice.length) * duplicates);
          warm.push(await run(connector.system, slice, duplicates, 0));
        };
        const runCold = async (): Promise<void> => {
          const fresh = new LoadClient();
          try {
            cold.push(await runPhase(connector.system, slice, duplicates, 0, concurrency, rss, fresh));
          } finally {
            fresh.close();
          }
        };
        if (round % 2 === 0) {
          await runWarm();
          await runCold();
        } else {
          await runCold();
          await runWarm();
        }
      }
      return { opened, warm: merged(warm), cold: merged(cold) };
    });
    printReplays(replays, parameters);

    // C: bursts of duplicates, connector and naive in alternating blocks.
    const { value: phaseC } = await muffled(() =>
      alternate(
        [connector.system, naive.system],
        rounds,
        blockFlows,
        duplicates,
        1,
        run,
        client,
        concurrency,
      ),
    );
    for (const result of phaseC.values()) {
      result.revoked = await systemOf(systems, result.system).revoked(result.flows);
    }
    printBursts(phaseC, connectorA, replays.warm, parameters);

    // D: the connector's bursts again, with TransactionConflict injected.
    const before = { ...(conflictCounts ?? { transactions: 0, injected: 0 }) };
    conflictOptions.share = CONFLICT_SHARE;
    const { value: phaseD } = await muffled(async () => {
      await client.open(connector.system.url, concurrency * duplicates);
      return run(connector.system, await connector.system.prepare(flows), duplicates, flows);
    });
    conflictOptions.share = 0;
    phaseD.revoked = await connector.system.revoked(phaseD.flows);
    const after = conflictCounts ?? { transactions: 0, injected: 0 };
    printConflicts(
      phaseD,
      phaseC.get('connector')!,
      {
        transactions: after.transactions - before.transactions,
        injected: after.injected - before.injected,
      },
      parameters,
    );
  } finally {
    client.close();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    const peak = rss.stop();
    log();
    log(`Peak RSS of this process over the load sections: ${mib(peak)} MiB.`);
  }
}

function systemOf(systems: readonly System[], name: SystemName): System {
  const system = systems.find((s) => s.name === name);
  if (system === undefined) throw new Error(`no system ${name}`);
  return system;
}

// ---------------------------------------------------------------------------------------------
// The systems

async function startConnector(
  dynamoDbEndpoint: string,
  onLedger: (ledger: DynamoDbFlowLedger) => void,
): Promise<{ system: System; close: () => Promise<void> }> {
  const dynamoRequests = new Tally();
  const tokensByRealm = new Map<string, string>();
  const stack = await startLocalStack({
    env: { DYNAMODB_ENDPOINT: dynamoDbEndpoint },
    port: 0,
    tablePrefix: `bench-${randomBytes(3).toString('hex')}`,
    onDynamoDbRequest: (command) => dynamoRequests.add(command),
    // Records the access token of every connection the connector stores, to ask the emulator later.
    wrapLedger: (ledger): FlowLedger => {
      onLedger(ledger);
      return {
        createFlow: (flow) => ledger.createFlow(flow),
        claimCode: (claim) => ledger.claimCode(claim),
        cancelFlow: (stateHash, now) => ledger.cancelFlow(stateHash, now),
        readEntry: (codeHash) => ledger.readEntry(codeHash),
        readFlowTenant: (stateHash) => ledger.readFlowTenant(stateHash),
        recordFailure: (codeHash, status, reason) => ledger.recordFailure(codeHash, status, reason),
        recordConnection: async (codeHash, connection) => {
          const written = await ledger.recordConnection(codeHash, connection);
          tokensByRealm.set(connection.realmId, connection.accessToken);
          return written;
        },
      };
    },
  });
  const emulator = stack.emulator;
  if (emulator === undefined) throw new Error('the local stack did not start the emulator');
  const system: System = {
    name: 'connector',
    url: stack.url,
    dynamoRequests,
    exchanges: () => emulator.exchangeCount(),
    prepare: (count) =>
      pool(Array.from({ length: count }), 10, async () => {
        const flow = await startFlow(stack.url);
        const realmId = newRealmId();
        // Each flow connects its own company, as users do: the user picks it at consent, and the
        // connector's company check then verifies the token against it.
        emulator.addCompany(realmId, `Bench company ${realmId}`);
        const url = await consent(emulator, flow, 'allow', realmId);
        return { url, cookie: flow.cookie, realmId };
      }),
    revoked: async (flows) => {
      const count: RevokedCount = { revoked: 0, checked: 0, missing: 0 };
      for (const flow of flows) {
        const token = tokensByRealm.get(flow.realmId);
        if (token === undefined) count.missing++;
        else {
          count.checked++;
          if (!emulator.isAccessTokenActive(token)) count.revoked++;
        }
      }
      return count;
    },
  };
  return { system, close: () => stack.close() };
}

async function startNaive(
  name: 'control' | 'naive',
  dynamoDbEndpoint: string,
  concurrency: number,
): Promise<{ system: System; close: () => Promise<void> }> {
  const credentials = {
    clientId: `${name.toUpperCase()}-${randomBytes(6).toString('hex')}`,
    clientSecret: randomBytes(24).toString('base64url'),
  };
  const redirectUri = `http://localhost/${name}/callback`;
  const emulator = await startIntuitEmulator({ clients: [{ ...credentials, redirectUris: [redirectUri] }] });
  const tables = {
    flow: `bench-${name}-${randomBytes(3).toString('hex')}-flows`,
    connection: `bench-${name}-${randomBytes(3).toString('hex')}-connections`,
  };
  await ensureTables(dynamoDbEndpoint, tables);
  const dynamoRequests = new Tally();
  const server = await startNaiveCallbackServer({
    tokenEndpoint: emulator.tokenEndpoint,
    ...credentials,
    redirectUri,
    dynamoDbEndpoint,
    tableName: tables.connection,
    storage: name === 'control' ? 'connector-transactions' : 'put',
    flowTableName: tables.flow,
    // The control verifies the company as the connector does (B6), so connector / control is
    // the connector's own code; the naive handler does not, as most integrations do not.
    ...(name === 'control' ? { companyInfoBaseUrl: emulator.apiBaseUrl } : {}),
    onDynamoDbRequest: (command) => dynamoRequests.add(command),
  });
  const system: System = {
    name,
    url: server.url,
    dynamoRequests,
    exchanges: () => emulator.exchangeCount(),
    prepare: (count) =>
      pool(Array.from({ length: count }), 10, async () => {
        // The user's consent, minted directly: these handlers check no cookie.
        const realmId = newRealmId();
        emulator.addCompany(realmId, `Bench company ${realmId}`);
        const code = emulator.issueCode({ ...credentials, redirectUri, realmId });
        const state = randomBytes(32).toString('base64url');
        if (name === 'control') await server.createPendingFlow(state);
        const query = new URLSearchParams({ code, state, realmId });
        return { url: `${server.url}/callback?${query.toString()}`, cookie: 'qbo_flow=unused', realmId };
      }),
    revoked: (flows) => revokedConnections(dynamoDbEndpoint, tables.connection, flows, emulator, concurrency),
  };
  return {
    system,
    close: async () => {
      await server.close();
      await emulator.close();
    },
  };
}

async function revokedConnections(
  endpoint: string,
  tableName: string,
  flows: readonly PreparedFlow[],
  emulator: IntuitEmulator,
  concurrency: number,
): Promise<RevokedCount> {
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ ...LOCAL_AWS, endpoint }));
  try {
    const count: RevokedCount = { revoked: 0, checked: 0, missing: 0 };
    await pool(flows, concurrency, async (flow) => {
      const out = await documents.send(
        new GetCommand({ TableName: tableName, Key: { realmId: flow.realmId } }),
      );
      const token: unknown = out.Item?.['accessToken'];
      if (typeof token !== 'string') {
        count.missing++;
        return;
      }
      count.checked++;
      if (!emulator.isAccessTokenActive(token)) count.revoked++;
    });
    return count;
  } finally {
    documents.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

type Runner = (
  system: System,
  flows: readonly PreparedFlow[],
  perFlow: number,
  expectedExchanges: number,
) => Promise<PhaseResult>;

async function runPhase(
  system: System,
  flows: readonly PreparedFlow[],
  perFlow: number,
  expectedExchanges: number,
  concurrency: number,
  rss: RssSampler,
  client: LoadClient,
): Promise<PhaseResult> {
  collectGarbage();
  const dynamoBefore = system.dynamoRequests.snapshot();
  const exchangesBefore = system.exchanges();
  rss.mark();
  const cpuBefore = process.cpuUsage();
  const { value: measured, logCodes } = await muffled(async () => {
    const t0 = performance.now();
    const byFlow = await pool(flows, concurrency, (flow) =>
      Promise.all(Array.from({ length: perFlow }, () => client.callback(flow.url, flow.cookie))),
    );
    return { byFlow, wallMs: performance.now() - t0 };
  });
  const cpu = process.cpuUsage(cpuBefore);
  return {
    system: system.name,
    cpuMs: (cpu.user + cpu.system) / 1000,
    callbacks: flows.length * perFlow,
    flows,
    byFlow: measured.byFlow,
    wallMs: measured.wallMs,
    exchanges: system.exchanges() - exchangesBefore,
    expectedExchanges,
    dynamoDb: system.dynamoRequests.since(dynamoBefore),
    logCodes,
    peakRss: rss.mark(),
  };
}

/** One result of several blocks of the same system. */
function merged(parts: readonly PhaseResult[]): PhaseResult {
  const sum = (pick: (p: PhaseResult) => number): number => parts.reduce((s, p) => s + pick(p), 0);
  const counts = (pick: (p: PhaseResult) => Map<string, number>): Map<string, number> => {
    const all = new Map<string, number>();
    for (const part of parts) for (const [k, v] of pick(part)) all.set(k, (all.get(k) ?? 0) + v);
    return all;
  };
  return {
    system: parts[0]!.system,
    callbacks: sum((p) => p.callbacks),
    flows: parts.flatMap((p) => p.flows),
    byFlow: parts.flatMap((p) => p.byFlow),
    wallMs: sum((p) => p.wallMs),
    exchanges: sum((p) => p.exchanges),
    expectedExchanges: sum((p) => p.expectedExchanges),
    dynamoDb: counts((p) => p.dynamoDb),
    logCodes: counts((p) => p.logCodes),
    peakRss: Math.max(...parts.map((p) => p.peakRss)),
    cpuMs: sum((p) => p.cpuMs),
    blocks: parts,
  };
}

/** Median over rounds of metric(a's block) / metric(b's block): each round's blocks ran back to back. */
function pairedRatio(a: PhaseResult, b: PhaseResult, metric: (block: PhaseResult) => number): number {
  const blocksA = a.blocks ?? [a];
  const blocksB = b.blocks ?? [b];
  const ratios = blocksA.map((block, round) => metric(block) / metric(blocksB[round] ?? b));
  return percentile(ascending(ratios), 50);
}

/**
 * `rounds` rounds; in each, every system runs one block of `blockFlows` fresh flows, in an order
 * rotated by one each round (A B C, B C A, C A B, ...), on connections opened just before.
 */
async function alternate(
  systems: readonly System[],
  rounds: number,
  blockFlows: number,
  perFlow: number,
  exchangesPerFlow: number,
  run: Runner,
  client: LoadClient,
  concurrency: number,
): Promise<Map<SystemName, PhaseResult>> {
  const parts = new Map<SystemName, PhaseResult[]>(systems.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < systems.length; i++) {
      const system = systems[(round + i) % systems.length]!;
      const flows = await system.prepare(blockFlows);
      await client.open(system.url, Math.min(concurrency, blockFlows) * perFlow);
      parts.get(system.name)!.push(await run(system, flows, perFlow, blockFlows * exchangesPerFlow));
    }
  }
  return new Map([...parts].map(([name, results]) => [name, merged(results)]));
}

interface WarmUp {
  readonly blocks: number;
  readonly steady: boolean;
  readonly p50ByBlock: Map<SystemName, number[]>;
}

/** Alternating first-callback blocks until every system's p50 has settled (or the cap). */
async function warmUp(systems: readonly System[], run: Runner): Promise<WarmUp> {
  const p50ByBlock = new Map<SystemName, number[]>(systems.map((s) => [s.name, []]));
  const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;
  const settled = (values: readonly number[]): boolean => {
    if (values.length < 2 * STEADY_WINDOW) return false;
    const last = mean(values.slice(-STEADY_WINDOW));
    const before = mean(values.slice(-2 * STEADY_WINDOW, -STEADY_WINDOW));
    return Math.abs(last - before) / before <= STEADY_TOLERANCE;
  };
  for (let block = 1; block <= MAX_WARMUP_BLOCKS; block++) {
    for (let i = 0; i < systems.length; i++) {
      const system = systems[(block + i) % systems.length]!;
      const result = await run(system, await system.prepare(WARMUP_BLOCK_FLOWS), 1, WARMUP_BLOCK_FLOWS);
      p50ByBlock.get(system.name)!.push(p50(result));
    }
    if (block >= MIN_WARMUP_BLOCKS && [...p50ByBlock.values()].every(settled)) {
      return { blocks: block, steady: true, p50ByBlock };
    }
  }
  return { blocks: MAX_WARMUP_BLOCKS, steady: false, p50ByBlock };
}

/** The request kinds both systems send, straight to DynamoDB Local, before any system runs. */
async function warmUpDynamoDb(endpoint: string): Promise<void> {
  const tables = {
    flow: `bench-warmup-${randomBytes(3).toString('hex')}-flows`,
    connection: `bench-warmup-${randomBytes(3).toString('hex')}-connections`,
  };
  await ensureTables(endpoint, tables);
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ ...LOCAL_AWS, endpoint }));
  try {
    await pool(Array.from({ length: WARMUP_DYNAMODB_ROUNDS }), 10, async () => {
      const pk = randomBytes(12).toString('hex');
      await documents.send(new PutCommand({ TableName: tables.flow, Item: { pk, status: 'PENDING' } }));
      await documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tables.flow,
                Key: { pk },
                ConditionExpression: '#s = :p',
                UpdateExpression: 'SET #s = :c',
                ExpressionAttributeNames: { '#s': 'status' },
                ExpressionAttributeValues: { ':p': 'PENDING', ':c': 'CONSUMED' },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            { Put: { TableName: tables.connection, Item: { realmId: pk, token: pk } } },
          ],
        }),
      );
      await documents.send(new GetCommand({ TableName: tables.flow, Key: { pk }, ConsistentRead: true }));
    });
  } finally {
    documents.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

const latencies = (result: PhaseResult): number[] =>
  ascending(result.byFlow.flatMap((callbacks) => callbacks.map((c) => c.ms)));
const p50 = (result: PhaseResult): number => percentile(latencies(result), 50);
const at = (result: PhaseResult, q: number): number => percentile(latencies(result), q);
const requestsOf = (result: PhaseResult): number =>
  result.byFlow.reduce((sum, callbacks) => sum + callbacks.reduce((s, c) => s + c.requests, 0), 0);
const cpuPerCallback = (result: PhaseResult): number => result.cpuMs / result.callbacks;
const dynamoPerCallback = (result: PhaseResult): number => total(result.dynamoDb) / result.callbacks;

function outcomes(result: PhaseResult): string {
  const counts = new Map<string, number>();
  for (const callbacks of result.byFlow)
    for (const c of callbacks) counts.set(c.outcome, (counts.get(c.outcome) ?? 0) + 1);
  return describeCounts(counts);
}

function revokedText(result: PhaseResult): string {
  if (result.revoked === undefined) return '-';
  const missing = result.revoked.missing > 0 ? ` (+${result.revoked.missing} with no tokens)` : '';
  return `${result.revoked.revoked} of ${result.revoked.checked}${missing}`;
}

const LATENCY_HEADERS = [
  'System',
  'Callbacks',
  'Exchanges / expected',
  'p50 ms',
  'p95 ms',
  'p99 ms',
  'max ms',
  'req/s',
  'DynamoDB req per callback',
  'CPU ms per callback',
  'Peak RSS MiB',
  'Answers',
  'Revoked connections',
];

function latencyRow(result: PhaseResult, label: string = result.system): string[] {
  return [
    label,
    String(result.callbacks),
    `${result.exchanges} / ${result.expectedExchanges}`,
    fmt(at(result, 50)),
    fmt(at(result, 95)),
    fmt(at(result, 99)),
    fmt(latencies(result).at(-1) ?? Number.NaN),
    fmt(requestsOf(result) / (result.wallMs / 1000)),
    fmt(dynamoPerCallback(result), 2),
    fmt(cpuPerCallback(result), 2),
    mib(result.peakRss),
    outcomes(result),
    revokedText(result),
  ];
}

function exactlyOnce(label: string, result: PhaseResult): string {
  const revoked = result.revoked?.revoked ?? 0;
  const missing = result.revoked?.missing ?? 0;
  const ok = result.exchanges === result.expectedExchanges && revoked === 0 && missing === 0;
  return (
    `${ok ? 'OK' : 'MISMATCH'}: ${label}: ${result.exchanges} exchanges at the emulator for ${result.expectedExchanges} expected, ` +
    `${revokedText(result)} stored connections revoked`
  );
}

function printWarmUp(warmup: WarmUp): void {
  heading('3. Warm-up to a steady state (not counted)');
  log(
    `Blocks of ${WARMUP_BLOCK_FLOWS} first callbacks per system, alternating, until for every system the mean p50 of its last ${STEADY_WINDOW} blocks was within ` +
      `${STEADY_TOLERANCE * 100}% of the ${STEADY_WINDOW} before (at least ${MIN_WARMUP_BLOCKS}, at most ${MAX_WARMUP_BLOCKS} blocks). ` +
      (warmup.steady
        ? `Steady after ${warmup.blocks} blocks (${warmup.blocks * WARMUP_BLOCK_FLOWS} flows per system).`
        : `NOT STEADY after ${warmup.blocks} blocks: the measured phases below still include warming.`),
  );
  log();
  const names = [...warmup.p50ByBlock.keys()];
  log(
    table(
      ['Block', ...names.map((n) => `${n} p50 ms`)],
      Array.from({ length: warmup.blocks }, (_, block) => [
        String(block + 1),
        ...names.map((n) => fmt(warmup.p50ByBlock.get(n)![block] ?? Number.NaN)),
      ]),
      names.map((_, i) => i + 1).concat(0),
    ),
  );
}

/** The phase table: counts, latencies, requests, CPU and answers per row (numeric columns right-aligned). */
function latencyTable(rows: string[][]): string {
  return table(LATENCY_HEADERS, rows, [1, 3, 4, 5, 6, 7, 8, 9, 10]);
}

function printFirstCallbacks(results: Map<SystemName, PhaseResult>, parameters: LoadParameters): void {
  heading(
    `4. Phase A: first callbacks, ${parameters.flows} flows per system in ${parameters.rounds} alternating blocks, C=${parameters.concurrency}`,
  );
  log(
    'connector: the local stack (API Gateway emulation and the real handlers, the ledger on DynamoDB Local). ' +
      "control: the naive handler with the connector's two transactions instead of its PutItem, same conditions and items. " +
      'naive: exchange with axios, then one PutItem. Every flow connects its own company.',
  );
  log();
  log(latencyTable([...results.values()].map((r) => latencyRow(r))));
  log();
  const connector = results.get('connector')!;
  const control = results.get('control')!;
  const naive = results.get('naive')!;
  const verdict = (value: number, target: number): string =>
    value <= target ? `target <= ${target.toFixed(2)}x: met` : `target <= ${target.toFixed(2)}x: MISSED`;
  const p50Ratio = pairedRatio(connector, control, p50);
  const cpuRatio = pairedRatio(connector, control, cpuPerCallback);
  log(
    table(
      ['Ratio', 'Paired (median of rounds)', 'Pooled', 'Target', 'What it means'],
      [
        [
          'connector / control, p50',
          `${p50Ratio.toFixed(2)}x`,
          ratio(p50(connector), p50(control)),
          verdict(p50Ratio, CONTROL_TARGETS.p50),
          "The connector's own overhead per first callback: the same DynamoDB transactions, plus its state and cookie checks, API Gateway emulation, logging and metrics.",
        ],
        [
          'connector / control, CPU per callback',
          `${cpuRatio.toFixed(2)}x`,
          ratio(cpuPerCallback(connector), cpuPerCallback(control)),
          verdict(cpuRatio, CONTROL_TARGETS.cpu),
          "The same in Node CPU time (this process: server, emulator and load generator alike for both), which the machine's other load disturbs less than latency.",
        ],
        [
          'connector / control, p95',
          `${pairedRatio(connector, control, (b) => at(b, 95)).toFixed(2)}x`,
          ratio(at(connector, 95), at(control, 95)),
          '-',
          'The tail of the same comparison.',
        ],
        [
          'connector / naive, p50',
          `${pairedRatio(connector, naive, p50).toFixed(2)}x`,
          ratio(p50(connector), p50(naive)),
          '-',
          'The price of exactly-once on DynamoDB Local: two transactions of two items each instead of one PutItem.',
        ],
        [
          'control / naive, p50',
          `${pairedRatio(control, naive, p50).toFixed(2)}x`,
          ratio(p50(control), p50(naive)),
          '-',
          "How much of that is DynamoDB Local's transaction cost alone (the control runs the naive handler's code).",
        ],
        [
          'connector / naive, CPU per callback',
          `${pairedRatio(connector, naive, cpuPerCallback).toFixed(2)}x`,
          ratio(cpuPerCallback(connector), cpuPerCallback(naive)),
          '-',
          'Node CPU of the whole process per first callback.',
        ],
      ],
      [1, 2],
    ),
  );
  log();
  log(
    "Paired: the median over rounds of the ratio between the two systems' blocks of the same round, which ran back to back, so a burst " +
      'of load from other processes that hits one round does not decide the figure; the targets are checked on it. Pooled: all blocks together.',
  );
  log();
  log(
    `On DynamoDB the latency ratio to the naive handler does not carry over: DynamoDB Local's transactions are slow relative to its single-item ` +
      'writes, and AWS publishes no latency figure for transactions. What does carry over is the capacity: DynamoDB performs two underlying ' +
      'writes (prepare and commit) for every item of a transaction, so a first callback costs 4 items x 2 = 8 write units (items under 1 KB) ' +
      'against 1 for the naive PutItem, and a replay 2 x 2 = 4 (a cancelled claim).',
  );
  log();
  for (const result of results.values()) log(exactlyOnce(`${result.system}, phase A`, result));
  const dynamo = dynamoPerCallback(connector);
  log(
    `DynamoDB requests per first callback, connector: ${fmt(dynamo, 2)} (budget: <= 2; ${describeCounts(connector.dynamoDb)})`,
  );
}

interface Replays {
  readonly opened: number;
  readonly warm: PhaseResult;
  readonly cold: PhaseResult;
}

function printReplays(replays: Replays, parameters: LoadParameters): void {
  heading(
    `5. Phase B: replays, each of the connector's phase A callbacks ${parameters.duplicates} times (C x K = ${parameters.concurrency * parameters.duplicates} requests in flight)`,
  );
  log(
    'Answered from the ledger (one claim that fails its condition), never exchanged again. After one unmeasured pass, in alternating ' +
      `blocks: on connections opened before the block (${replays.opened} kept open), and on a new client that opens its connections as the block ` +
      'starts (C x K at once to one process), as the bench did before.',
  );
  log();
  log(
    latencyTable([
      latencyRow(replays.warm, 'connector, connections opened before'),
      latencyRow(replays.cold, 'connector, connections opened during the phase'),
    ]),
  );
  log();
  log(
    `- Replay tail with connections opened before: p95 ${fmt(at(replays.warm, 95))} ms, p99 ${fmt(at(replays.warm, 99))} ms: the claim itself under ` +
      `${parameters.concurrency * parameters.duplicates} concurrent requests to one process and one DynamoDB Local.`,
  );
  log(
    `- Opening them during the phase: p95 ${fmt(at(replays.cold, 95))} ms; the difference is connection set-up against one process, which a browser pays once per tab and Lambda never sees.`,
  );
  log(`- DynamoDB requests per replay: ${fmt(dynamoPerCallback(replays.warm), 2)} (budget: 1).`);
  log(exactlyOnce('connector, phase B (opened before)', replays.warm));
  log(exactlyOnce('connector, phase B (opened during)', replays.cold));
}

/** What the in-flight poll adds: a duplicate's wait beyond the first answer of its flow, and its reads. */
interface PollFigures {
  readonly extraP50: number;
  readonly extraP95: number;
  readonly getItemsPerDuplicate: number;
}

function pollFigures(burst: PhaseResult): PollFigures {
  const extras: number[] = [];
  for (const callbacks of burst.byFlow) {
    const sorted = ascending(callbacks.map((c) => c.ms));
    for (const ms of sorted.slice(1)) extras.push(ms - sorted[0]!);
  }
  const duplicates = burst.callbacks - burst.byFlow.length;
  const getItems = burst.dynamoDb.get('GetItemCommand') ?? 0;
  return {
    extraP50: percentile(ascending(extras), 50),
    extraP95: percentile(ascending(extras), 95),
    getItemsPerDuplicate: duplicates > 0 ? getItems / duplicates : Number.NaN,
  };
}

/** Poll times (ms after the duplicate's claim failed) of a schedule: `first`, then growing by `factor` up to `cap`. */
function pollSchedule(first: number, factor: number, cap: number): number[] {
  const times: number[] = [];
  for (let step = first, elapsed = 0; elapsed < 30_000; step = Math.min(cap, step * factor)) {
    elapsed += step;
    times.push(elapsed);
  }
  return times;
}

/**
 * A schedule against the measured bursts: a flow's duplicates arrive with its first callback, fail
 * their claim `offset` ms later and start polling; the outcome is there at the first callback's
 * measured answer time, and each duplicate sees it at its next poll. Returns the mean reads per
 * duplicate and the mean delay between the outcome and the poll that sees it.
 */
function scheduleEstimate(
  burst: PhaseResult,
  times: readonly number[],
  offset: number,
): { reads: number; delay: number } {
  let reads = 0;
  let delay = 0;
  let duplicates = 0;
  for (const callbacks of burst.byFlow) {
    const outcomeAt = Math.min(...callbacks.map((c) => c.ms)) - offset;
    duplicates += callbacks.length - 1;
    // Stored before the claim failed: the claim itself answers, no poll.
    if (outcomeAt <= 0) continue;
    const index = times.findIndex((t) => t >= outcomeAt);
    const seen = index < 0 ? times.length : index + 1;
    const at = index < 0 ? outcomeAt : Math.max(outcomeAt, times[index]!);
    reads += seen * (callbacks.length - 1);
    delay += (at - outcomeAt) * (callbacks.length - 1);
  }
  return { reads: reads / Math.max(1, duplicates), delay: delay / Math.max(1, duplicates) };
}

function printBursts(
  results: Map<SystemName, PhaseResult>,
  connectorA: PhaseResult,
  replays: PhaseResult,
  parameters: LoadParameters,
): void {
  heading(
    `6. Phase C: bursts, each fresh callback ${parameters.duplicates} times at once, ${parameters.flows} flows per system in ${parameters.rounds} alternating blocks`,
  );
  log(
    'As a double-click, a reload or a second tab would. The connector lets one exchange and makes the rest wait for its outcome (polling the ledger every 200 ms); the naive handler sends every duplicate to Intuit, which answers invalid_grant and revokes the tokens the first exchange issued.',
  );
  log();
  log(latencyTable([...results.values()].map((r) => latencyRow(r))));
  log();
  for (const result of results.values()) {
    if (result.system === 'connector') log(exactlyOnce('connector, phase C', result));
    else
      log(
        `${result.system}, phase C: ${result.exchanges} exchanges for ${result.expectedExchanges} flows (${fmt(result.exchanges / result.expectedExchanges, 1)} per flow), ${revokedText(result)} stored connections revoked: expected, the point of the comparison`,
      );
  }
  const connector = results.get('connector')!;
  log(
    `DynamoDB requests by command, connector: ${describeCounts(connector.dynamoDb)}; log codes: ${describeCounts(connector.logCodes)}`,
  );
  const poll = pollFigures(connector);
  log();
  log('### The in-flight poll');
  log();
  log(
    `Each duplicate that finds the exchange in flight re-reads the ledger every ${IN_FLIGHT_POLL_MS} ms. Measured: a duplicate answers ` +
      `${fmt(poll.extraP50)} ms (p50) / ${fmt(poll.extraP95)} ms (p95) after the first answer of its flow, with ${fmt(poll.getItemsPerDuplicate, 2)} ` +
      `GetItem per duplicate; a first callback alone takes ${fmt(p50(connectorA))} ms (phase A p50) and a replay ${fmt(p50(replays))} ms under this load. ` +
      'The interval is a constant of lambdas/core/callback-flow.ts with no override, so other schedules are estimated, not measured: each ' +
      "flow's duplicates wait until its first callback's measured answer time, then until their next poll.",
  );
  log();
  const schedules: Array<[string, number[]]> = [
    [`every ${IN_FLIGHT_POLL_MS} ms (today)`, pollSchedule(IN_FLIGHT_POLL_MS, 1, IN_FLIGHT_POLL_MS)],
    ['every 100 ms', pollSchedule(100, 1, 100)],
    ['every 50 ms', pollSchedule(50, 1, 50)],
    ['50 ms, then x1.5 up to 200 ms', pollSchedule(50, 1.5, 200)],
    ['100 ms, then x1.5 up to 400 ms', pollSchedule(100, 1.5, 400)],
  ];
  // The one free parameter, when a duplicate's claim fails, fitted so that today's schedule reads
  // what was measured.
  let offset = 0;
  let bestGap = Number.POSITIVE_INFINITY;
  for (let candidate = 0; candidate <= 1000; candidate += 5) {
    const gap = Math.abs(
      scheduleEstimate(connector, schedules[0]![1], candidate).reads - poll.getItemsPerDuplicate,
    );
    if (gap < bestGap) [offset, bestGap] = [candidate, gap];
  }
  const today = scheduleEstimate(connector, schedules[0]![1], offset);
  log(
    table(
      ['Poll schedule', 'Delay after the outcome, mean ms', 'GetItem per duplicate', 'Reads vs today'],
      schedules.map(([name, times]) => {
        const e = scheduleEstimate(connector, times, offset);
        return [name, fmt(e.delay), fmt(e.reads, 2), ratio(e.reads, today.reads)];
      }),
      [1, 2, 3],
    ),
  );
  log();
  log(
    `The model's one free parameter, when a duplicate's failed claim returns, is fitted to today's measured reads: ${offset} ms after ` +
      `it arrived (model ${fmt(today.reads, 2)} GetItem per duplicate against ${fmt(poll.getItemsPerDuplicate, 2)} measured).`,
  );
}

function printConflicts(
  result: PhaseResult,
  withoutConflicts: PhaseResult,
  counts: TransactionConflictCounts,
  parameters: LoadParameters,
): void {
  heading(
    `7. Phase D: the connector's bursts with TransactionConflict injected (${CONFLICT_SHARE * 100}% of transactions), ${parameters.flows} flows x ${parameters.duplicates}`,
  );
  log(
    'DynamoDB cancels a transaction that touches an item another transaction holds; DynamoDB Local serializes them instead. An SDK middleware ' +
      '(injectTransactionConflicts, local/dynamodb-local.ts) cancels this share of the TransactWriteItems with that reason, never the same items ' +
      'more than twice in a row, so the ledger retries the claim with jittered backoff and the callback retries the store.',
  );
  log();
  log(
    latencyTable([
      latencyRow(withoutConflicts, 'connector, phase C (no conflicts)'),
      latencyRow(result, 'connector, conflicts injected'),
    ]),
  );
  log();
  log(
    `Injected: ${counts.injected} of ${counts.transactions} TransactWriteItems cancelled. DynamoDB requests by command: ${describeCounts(result.dynamoDb)}; log codes: ${describeCounts(result.logCodes)}.`,
  );
  log(exactlyOnce('connector, phase D (conflicts injected)', result));
}

/** Explanations of the load sections' columns, for the legend. */
export const LOAD_LEGEND: readonly string[] = [
  "Warm-up: DynamoDB Local (a JVM) and Node keep speeding up for hundreds of flows; the measured phases start only once every system has settled, and run in alternating blocks so that drift and the machine's other load reach every system alike.",
  'Callbacks: browser navigations to /callback, over keep-alive connections; "finishing" pages are re-requested after 500 ms like the page\'s meta refresh does. Exchanges / expected: authorization_code requests the emulator received; exactly-once means one per flow in phases A, C and D and none in B (an OK or MISMATCH line says so).',
  "p50/p95/p99/max ms: from sending a callback to its final answer (refresh waits included). req/s: HTTP requests answered per second of the phase's wall time.",
  'DynamoDB req per callback: requests the handlers sent (an SDK middleware, SDK retries and injected cancellations included) divided by callbacks. Budget: <= 2 for a first callback, 1 for a replay.',
  "CPU ms per callback: user + system CPU of this whole process during the phase (server, handlers, emulator and load generator) divided by callbacks. DynamoDB Local's own CPU (a separate JVM) is not included.",
  'Peak RSS: process.memoryUsage.rss() sampled every 50 ms during the phase; the servers share the process with the load generator and the emulators.',
  "Revoked connections: stored connections whose access token the emulator no longer accepts (a second exchange of a code revokes the first one's tokens).",
];
