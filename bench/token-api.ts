/**
 * The token API's figures on the local stack, with the token cipher on a counting in-process KMS
 * (local/local-kms.ts) instead of the local AES key, so that KMS requests can be counted:
 *
 * 1. access-token latency and throughput with a fresh token, against a control (one GetItem of the
 *    same item and a JSON answer, from a bare node:http server on the same DynamoDB Local);
 * 2. DynamoDB and KMS requests per warm access-token call;
 * 3. KMS requests per call over many companies, first read in a fresh container and a repeat;
 * 4. the refresh storm: concurrent calls on an expired token, refreshes at the emulator per storm
 *    and the waiters' extra wait;
 * 5. the refresher's DynamoDB reads and time for a table where 1% of the connections are due, at
 *    two table sizes.
 *
 * The connections are written into the table directly, in the item shape of the store's own
 * mapping (lambdas/adapters/connection-item.ts) and sealed by the same cipher on another instance
 * (the callback's container): going through the browser flow would take minutes for 10,000.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { BatchWriteCommandInput, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tokenValues } from '../lambdas/adapters/connection-item';
import { createDocumentClient } from '../lambdas/adapters/dynamodb-client';
import { DynamoDbConnectionStore } from '../lambdas/adapters/dynamodb-connection-store';
import { kmsTokenCipher } from '../lambdas/adapters/encryption-sdk-token-cipher';
import { IntuitTokenClient } from '../lambdas/adapters/intuit-token-client';
import type { ConnectionStore, ConnectionTokens } from '../lambdas/core/connection-store';
import type { KeepAliveRunReport } from '../lambdas/core/keep-alive';
import type { TokenCipher } from '../lambdas/core/token-cipher';
import { LOCAL_AWS, observeRequests } from '../local/dynamodb-local';
import type { IntuitEmulator } from '../local/intuit-emulator';
import { createLocalKms } from '../local/local-kms';
import type { KmsOperation, LocalKms } from '../local/local-kms';
import { startLocalStack } from '../local/server';
import type { LocalStack } from '../local/server';
import { describeCounts, muffled, pool, Tally, total } from './load';
import { ascending, fmt, percentile, ratio, table } from './stats';

export interface TokenApiParameters {
  /** Access-token requests per system in the latency comparison (split into `rounds` blocks). */
  readonly requests: number;
  readonly concurrency: number;
  readonly rounds: number;
  /** Companies read twice for the KMS-per-request figure. */
  readonly companies: number;
  /** Refresh storms, each on its own company. */
  readonly storms: number;
  /** Concurrent calls per storm. */
  readonly stormSize: number;
  /** Stored connections in the refresher's larger table (the smaller one holds a tenth). */
  readonly storedConnections: number;
}

/** Companies the latency comparison reads, round robin: each read again within milliseconds. */
const HOT_COMPANIES = 50;
/** Requests per system before the measured blocks (every hot company read at least once). */
const WARMUP_REQUESTS = 600;
/** The share of stored connections due for a keep-alive refresh in the refresher's tables. */
const DUE_SHARE = 0.01;
/** Due connections of the refresher's unmeasured first run. */
const WARMUP_DUE = 5;
/** The emulator's access-token lifetime for a storm's company: under the default minValidSeconds (300). */
const STORM_ACCESS_LIFETIME_SECONDS = 60;
/** A due company's refresh window: 20 days, inside the keep-alive's 30-day margin. */
const DUE_REFRESH_LIFETIME_SECONDS = 20 * 24 * 3600;
const DAY_MS = 24 * 3600 * 1000;
/** DynamoDB's BatchWriteItem limit. */
const BATCH_ITEMS = 25;
/** Batches and seals in flight while the tables are filled. */
const WRITE_CONCURRENCY = 8;
const CALLER_HEADER = 'x-bench-caller';
/** The token API's targets, printed next to the figures (the bench asserts nothing). */
const TARGETS = { readsPerCall: 1, kmsPerWarmCall: 0, refreshesPerStorm: 1 } as const;

const log = (text = ''): void => console.log(text);
const heading = (text: string): void => log(`\n### ${text}\n`);

/** The DynamoDB commands that read; everything else the refresher sends writes. */
const READ_COMMANDS = new Set(['GetCommand', 'GetItemCommand', 'QueryCommand']);

/**
 * Runs the token API's figures on one local stack (its own tables on `dynamoDbEndpoint`, its own
 * emulator, a counting KMS stand-in and a control server) and prints them as Markdown tables;
 * everything it started is closed before it returns.
 */
export async function runTokenApiBench(
  dynamoDbEndpoint: string,
  parameters: TokenApiParameters,
): Promise<void> {
  const kms = createLocalKms();
  const container = new TokenApiContainer(kms);
  const dynamoRequests = new Tally();
  const credentials = {
    clientId: `BENCHTOKENS${randomBytes(6).toString('hex')}`,
    clientSecret: randomBytes(24).toString('base64url'),
  };
  const stack = await startLocalStack({
    env: { DYNAMODB_ENDPOINT: dynamoDbEndpoint },
    port: 0,
    tablePrefix: `bench-tokens-${randomBytes(3).toString('hex')}`,
    emulatorCredentials: credentials,
    keepAliveIntervalMs: 0,
    onDynamoDbRequest: (command) => dynamoRequests.add(command),
    onRequest: (req) => container.callers.enterWith(headerValue(req, CALLER_HEADER)),
    wrapStore: (store) => container.storeFor(store),
  });
  const emulator = stack.emulator;
  const closers: Array<() => Promise<void>> = [() => stack.close()];
  const client = new TokenApiClient(stack.apiKey);
  try {
    if (emulator === undefined) throw new Error('the local stack did not start the emulator');
    if (stack.config.appEnv !== LOCAL_ENVIRONMENT)
      throw new Error(
        `the local stack runs as ${stack.config.appEnv}, the seeder seals for ${LOCAL_ENVIRONMENT}`,
      );
    const documents = createDocumentClient({
      ...LOCAL_AWS,
      endpoint: dynamoDbEndpoint,
      ...LOCAL_STACK_HANDLER,
    });
    closers.push(async () => documents.destroy());
    const seed = new Seeder(documents, stack, kms);
    const exchange = new EmulatorExchange(emulator, stack, credentials);

    const { value: results, logCodes } = await muffled(async () => {
      // 1 and 2: the same hot companies for the connector and the control.
      const hot = await seed.fresh('hot', HOT_COMPANIES);
      const control = await startControl(dynamoDbEndpoint, stack.tables.connection);
      closers.push(control.close);
      const latency = await compareLatency(stack, control, hot, client, kms, dynamoRequests, parameters);

      // 5 before 3 and 4, so that its smaller table holds storedConnections / 10 exactly.
      const keepAlive = await refresherRuns(stack, exchange, seed, kms, dynamoRequests, parameters);

      // 3: companies no container has read, read by a fresh one, then again.
      const many = await seed.fresh('many', parameters.companies);
      container.renew();
      const first = await readRound(
        'first read of each company, fresh container',
        stack,
        many,
        client,
        kms,
        dynamoRequests,
        parameters.concurrency,
      );
      const second = await readRound(
        'second read of each company, same container',
        stack,
        many,
        client,
        kms,
        dynamoRequests,
        parameters.concurrency,
      );

      // 4: storms on expired tokens.
      const storms = await refreshStorms(
        stack,
        emulator,
        exchange,
        seed,
        container,
        client,
        dynamoRequests,
        parameters,
      );
      return { latency, rounds: [first, second], storms, keepAlive };
    });

    printLatency(results.latency, parameters);
    printWarmCosts(results.latency);
    printKmsRounds(results.rounds, seed.sealing);
    printStorms(results.storms, parameters);
    printRefresher(results.keepAlive);
    log();
    log(`Handler log codes over the section: ${describeCounts(logCodes)}.`);
  } finally {
    client.close();
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The token API's container: the real store on the stack's document client, with a KMS keyring

/**
 * What a warm token-API Lambda holds: the connections store with its cipher (the materials cache
 * lives in the cipher). `renew` starts a fresh container; a hook on storeRefreshedTokens records
 * which request stored a refresh (the storm's holder), from the caller header the request carried.
 */
class TokenApiContainer {
  readonly callers = new AsyncLocalStorage<string | undefined>();
  /**
   * Per realm, the callers that stored refreshed tokens: the lease's holder that refreshed. A
   * request may take the lease after it and find the tokens fresh; it stores nothing.
   */
  readonly refreshers = new Map<string, string[]>();
  private base: DynamoDbConnectionStore | undefined;
  private current: DynamoDbConnectionStore | undefined;

  constructor(private readonly kms: LocalKms) {}

  /** The store the token runtime uses: forwards to the current container's store. */
  storeFor(base: DynamoDbConnectionStore): ConnectionStore {
    this.base = base;
    this.renew();
    const storeRefreshedTokens: ConnectionStore['storeRefreshedTokens'] = (realmId, ...rest) => {
      const caller = this.callers.getStore() ?? 'unknown';
      this.refreshers.set(realmId, [...(this.refreshers.get(realmId) ?? []), caller]);
      return this.active().storeRefreshedTokens(realmId, ...rest);
    };
    const active = (): DynamoDbConnectionStore => this.active();
    return new Proxy<ConnectionStore>(base, {
      get(_target, property) {
        if (property === 'storeRefreshedTokens') return storeRefreshedTokens;
        const store = active();
        const value: unknown = Reflect.get(store, property, store);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(store) : value;
      },
    });
  }

  /** A new cipher (an empty materials cache) on the same table and document client. */
  renew(): void {
    const base = this.base;
    if (base === undefined) return;
    this.current = new DynamoDbConnectionStore({
      client: base['client'],
      tableName: base['table'],
      cipher: kmsTokenCipher({
        keyArn: this.kms.keyArn,
        environment: LOCAL_ENVIRONMENT,
        kmsClient: this.kms.client,
      }),
    });
  }

  private active(): DynamoDbConnectionStore {
    if (this.current === undefined) throw new Error('the token runtime has not been built yet');
    return this.current;
  }
}

/** The stack's APP_ENV: bound into every ciphertext, so the seeder must seal for the same one. */
const LOCAL_ENVIRONMENT = 'local';

/** The request bounds local/server.ts gives its document client, for the control and the seeder. */
const LOCAL_STACK_HANDLER = {
  requestHandler: {
    connectionTimeout: 10_000,
    requestTimeout: 15_000,
    httpAgent: { keepAlive: true, maxSockets: 512 },
  },
} as const;

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Connections written into the table

interface SeededCompany {
  readonly realmId: string;
  readonly tokens: ConnectionTokens;
}

interface SealingCost {
  companies: number;
  kms: Record<KmsOperation, number>;
  ms: number;
}

/**
 * Writes ACTIVE connections with sealed tokens, as the callback's transaction leaves them: the
 * token attributes come from the adapter's own mapping (tokenValues), sealed by a KMS cipher of
 * the callback's container (its own instance, so its cache is not the token API's).
 */
class Seeder {
  /** Connections written into the table so far (each a new company). */
  written = 0;
  readonly sealing: SealingCost = {
    companies: 0,
    kms: { GenerateDataKey: 0, Encrypt: 0, Decrypt: 0 },
    ms: 0,
  };
  private readonly cipher: TokenCipher;
  private next = 0;
  private readonly prefix = 9_100_000_000_000_000n + BigInt(randomBytes(3).readUIntBE(0, 3)) * 100_000_000n;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly stack: LocalStack,
    private readonly kms: LocalKms,
  ) {
    this.cipher = kmsTokenCipher({
      keyArn: kms.keyArn,
      environment: LOCAL_ENVIRONMENT,
      kmsClient: kms.client,
    });
  }

  newRealmId(): string {
    return String(this.prefix + BigInt(this.next++));
  }

  /** `count` companies with random tokens, the access token valid for an hour, the window 100 days. */
  async fresh(label: string, count: number): Promise<SeededCompany[]> {
    const now = Date.now();
    const companies = Array.from({ length: count }, () => ({
      realmId: this.newRealmId(),
      tokens: {
        accessToken: `bench-${label}-${randomBytes(24).toString('base64url')}`,
        refreshToken: `bench-${label}-${randomBytes(24).toString('base64url')}`,
        accessTokenExpiresAt: now + 3600 * 1000,
        refreshTokenExpiresAt: now + 100 * DAY_MS,
        refreshTokenHardExpiresAt: now + 5 * 365 * DAY_MS,
      },
    }));
    await this.write(companies);
    return companies;
  }

  /** Seals and writes the companies, BATCH_ITEMS per request. */
  async write(companies: readonly SeededCompany[]): Promise<void> {
    const started = performance.now();
    const before = this.kms.counts();
    const batches: SeededCompany[][] = [];
    for (let i = 0; i < companies.length; i += BATCH_ITEMS) batches.push(companies.slice(i, i + BATCH_ITEMS));
    await pool(batches, WRITE_CONCURRENCY, async (batch) => {
      const items = await Promise.all(batch.map((company) => this.item(company)));
      let pending: WriteRequests = items.map((Item) => ({ PutRequest: { Item } }));
      while (pending.length > 0) {
        const result = await this.documents.send(
          new BatchWriteCommand({ RequestItems: { [this.stack.tables.connection]: pending } }),
        );
        pending = result.UnprocessedItems?.[this.stack.tables.connection] ?? [];
      }
    });
    const after = this.kms.counts();
    this.written += companies.length;
    this.sealing.companies += companies.length;
    this.sealing.ms += performance.now() - started;
    for (const operation of KMS_OPERATIONS)
      this.sealing.kms[operation] += after[operation] - before[operation];
  }

  private async item({ realmId, tokens }: SeededCompany): Promise<Record<string, unknown>> {
    const sealed = await this.cipher.encrypt(realmId, tokens);
    const grantedAt = Date.now();
    const attributes = Object.fromEntries(
      Object.entries(tokenValues(tokens, sealed)).map(([placeholder, value]) => [
        placeholder.slice(1),
        value,
      ]),
    );
    return {
      realmId,
      status: 'ACTIVE',
      grantedAt,
      connectedAt: grantedAt,
      qboEnvironment: this.stack.config.qboEnvironment,
      companyName: `Bench company ${realmId}`,
      version: 1,
      ...attributes,
    };
  }
}

type WriteRequests = NonNullable<BatchWriteCommandInput['RequestItems']>[string];

const KMS_OPERATIONS: readonly KmsOperation[] = ['GenerateDataKey', 'Encrypt', 'Decrypt'];

/** Tokens the emulator issued (consent minted directly, then the code exchanged), for refreshes that must succeed. */
class EmulatorExchange {
  private readonly client: IntuitTokenClient;

  constructor(
    private readonly emulator: IntuitEmulator,
    private readonly stack: LocalStack,
    private readonly credentials: { readonly clientId: string; readonly clientSecret: string },
  ) {
    this.client = new IntuitTokenClient({
      tokenEndpoint: emulator.tokenEndpoint,
      redirectUri: stack.config.redirectUri,
    });
  }

  async tokensFor(realmId: string): Promise<ConnectionTokens> {
    this.emulator.addCompany(realmId, `Bench company ${realmId}`);
    const code = this.emulator.issueCode({
      clientId: this.credentials.clientId,
      redirectUri: this.stack.config.redirectUri,
      realmId,
    });
    const now = Date.now();
    const { tokens } = await this.client.exchangeCode(
      code,
      { ...this.credentials, environment: this.stack.config.qboEnvironment },
      10_000,
    );
    return {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessTokenExpiresAt: now + tokens.expiresInSeconds * 1000,
      refreshTokenExpiresAt: now + tokens.refreshTokenExpiresInSeconds * 1000,
      refreshTokenHardExpiresAt:
        now + (tokens.refreshTokenHardExpiresInSeconds ?? 5 * 365 * 24 * 3600) * 1000,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: the load client and the control

interface TokenAnswer {
  readonly status: number;
  readonly ms: number;
  readonly body: string;
}

/** POSTs access-token requests over keep-alive connections, with the app API's bearer key. */
class TokenApiClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });

  constructor(private readonly apiKey: string) {}

  async accessToken(baseUrl: string, realmId: string, caller?: string): Promise<TokenAnswer> {
    const url = `${baseUrl}/api/connections/${realmId}/access-token`;
    const started = performance.now();
    let answer: Omit<TokenAnswer, 'ms'>;
    try {
      answer = await this.post(url, caller);
    } catch (error) {
      // A kept connection the server closed as idle just as it was reused: sent again.
      if (!(error instanceof StaleConnectionError)) throw error;
      answer = await this.post(url, caller);
    }
    return { ...answer, ms: performance.now() - started };
  }

  close(): void {
    this.agent.destroy();
  }

  private post(url: string, caller: string | undefined): Promise<Omit<TokenAnswer, 'ms'>> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            'content-length': '0',
            ...(caller !== undefined ? { [CALLER_HEADER]: caller } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) =>
        reject(req.reusedSocket && error.code === 'ECONNRESET' ? new StaleConnectionError() : error),
      );
      req.end();
    });
  }
}

class StaleConnectionError extends Error {
  override readonly name = 'StaleConnectionError';
}

interface Control {
  readonly url: string;
  readonly dynamoRequests: Tally;
  readonly close: () => Promise<void>;
}

/**
 * The control: POST /api/connections/{realmId}/access-token answered by one consistent GetItem of
 * the same item and its expiry as JSON, on a document client with the stack's settings. No
 * authentication, decryption, logging or metrics: what the connector adds is the difference.
 */
async function startControl(dynamoDbEndpoint: string, tableName: string): Promise<Control> {
  const documents = createDocumentClient({
    ...LOCAL_AWS,
    endpoint: dynamoDbEndpoint,
    ...LOCAL_STACK_HANDLER,
  });
  const dynamoRequests = new Tally();
  observeRequests(documents, (command) => dynamoRequests.add(command));
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    req.resume();
    const realmId = /^\/api\/connections\/(\d+)\/access-token$/.exec(req.url ?? '')?.[1];
    let status = 404;
    let body: unknown = { error: 'connection_not_found' };
    if (realmId !== undefined) {
      try {
        const { Item } = await documents.send(
          new GetCommand({ TableName: tableName, Key: { realmId }, ConsistentRead: true }),
        );
        if (Item !== undefined) {
          status = 200;
          body = { realmId, expiresAt: new Date(Number(Item['accessTokenExpiresAt'])).toISOString() };
        }
      } catch {
        status = 503;
        body = { error: 'temporarily_unavailable' };
      }
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      'Content-Length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  };
  const server: Server = createServer((req, res) => void serve(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: 'localhost', backlog: 4096 }, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://localhost:${port}`,
    dynamoRequests,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      documents.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: latency and warm costs

interface Block {
  readonly latencies: number[];
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly failures: number;
}

interface SystemRun {
  readonly latencies: number[];
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly failures: number;
  readonly requests: number;
}

interface LatencyResult {
  readonly connector: SystemRun;
  readonly control: SystemRun;
  /** Over the connector's measured blocks. */
  readonly dynamoDb: Map<string, number>;
  readonly controlDynamoDb: Map<string, number>;
  readonly kms: Record<KmsOperation, number>;
  /** KMS requests of the warm-up (each hot company's first read). */
  readonly warmupKms: Record<KmsOperation, number>;
}

async function runBlock(
  url: string,
  companies: readonly SeededCompany[],
  count: number,
  offset: number,
  client: TokenApiClient,
  concurrency: number,
): Promise<Block> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const answers = await pool(Array.from({ length: count }), concurrency, (_, i) =>
    client.accessToken(url, companies[(offset + i) % companies.length]!.realmId),
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    latencies: answers.map((a) => a.ms),
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    failures: answers.filter((a) => a.status !== 200).length,
  };
}

async function compareLatency(
  stack: LocalStack,
  control: Control,
  hot: readonly SeededCompany[],
  client: TokenApiClient,
  kms: LocalKms,
  dynamoRequests: Tally,
  parameters: TokenApiParameters,
): Promise<LatencyResult> {
  const { concurrency, rounds } = parameters;
  const perBlock = Math.max(1, Math.ceil(parameters.requests / rounds));
  const kmsBefore = kms.counts();
  await runBlock(stack.url, hot, WARMUP_REQUESTS, 0, client, concurrency);
  await runBlock(control.url, hot, WARMUP_REQUESTS, 0, client, concurrency);
  const warmupKms = kmsSince(kms, kmsBefore);
  const connectorBlocks: Block[] = [];
  const controlBlocks: Block[] = [];
  const dynamoDb = new Map<string, number>();
  const kmsTotal: Record<KmsOperation, number> = { GenerateDataKey: 0, Encrypt: 0, Decrypt: 0 };
  const controlBefore = control.dynamoRequests.snapshot();
  for (let round = 0; round < rounds; round++) {
    const runConnector = async (): Promise<void> => {
      const before = dynamoRequests.snapshot();
      const kmsAt = kms.counts();
      connectorBlocks.push(await runBlock(stack.url, hot, perBlock, round * perBlock, client, concurrency));
      for (const [name, count] of dynamoRequests.since(before))
        dynamoDb.set(name, (dynamoDb.get(name) ?? 0) + count);
      const spent = kmsSince(kms, kmsAt);
      for (const operation of KMS_OPERATIONS) kmsTotal[operation] += spent[operation];
    };
    const runControl = async (): Promise<void> => {
      controlBlocks.push(await runBlock(control.url, hot, perBlock, round * perBlock, client, concurrency));
    };
    // Alternating order, so that drift in the machine's load reaches both alike.
    if (round % 2 === 0) {
      await runConnector();
      await runControl();
    } else {
      await runControl();
      await runConnector();
    }
  }
  return {
    connector: mergeBlocks(connectorBlocks),
    control: mergeBlocks(controlBlocks),
    dynamoDb,
    controlDynamoDb: control.dynamoRequests.since(controlBefore),
    kms: kmsTotal,
    warmupKms,
  };
}

function mergeBlocks(blocks: readonly Block[]): SystemRun {
  const latencies = ascending(blocks.flatMap((b) => b.latencies));
  return {
    latencies,
    wallMs: blocks.reduce((sum, b) => sum + b.wallMs, 0),
    cpuMs: blocks.reduce((sum, b) => sum + b.cpuMs, 0),
    failures: blocks.reduce((sum, b) => sum + b.failures, 0),
    requests: latencies.length,
  };
}

function kmsSince(
  kms: LocalKms,
  before: Readonly<Record<KmsOperation, number>>,
): Record<KmsOperation, number> {
  const now = kms.counts();
  return {
    GenerateDataKey: now.GenerateDataKey - before.GenerateDataKey,
    Encrypt: now.Encrypt - before.Encrypt,
    Decrypt: now.Decrypt - before.Decrypt,
  };
}

const kmsTotalOf = (counts: Readonly<Record<KmsOperation, number>>): number =>
  counts.GenerateDataKey + counts.Encrypt + counts.Decrypt;

// ---------------------------------------------------------------------------------------------
// 3: KMS per request over many companies

interface ReadRound {
  readonly label: string;
  readonly requests: number;
  readonly failures: number;
  readonly latencies: number[];
  readonly wallMs: number;
  readonly kms: Record<KmsOperation, number>;
  readonly dynamoDb: Map<string, number>;
}

async function readRound(
  label: string,
  stack: LocalStack,
  companies: readonly SeededCompany[],
  client: TokenApiClient,
  kms: LocalKms,
  dynamoRequests: Tally,
  concurrency: number,
): Promise<ReadRound> {
  const kmsBefore = kms.counts();
  const dynamoBefore = dynamoRequests.snapshot();
  const block = await runBlock(stack.url, companies, companies.length, 0, client, concurrency);
  return {
    label,
    requests: companies.length,
    failures: block.failures,
    latencies: ascending(block.latencies),
    wallMs: block.wallMs,
    kms: kmsSince(kms, kmsBefore),
    dynamoDb: dynamoRequests.since(dynamoBefore),
  };
}

// ---------------------------------------------------------------------------------------------
// 4: refresh storms

interface Storm {
  readonly refreshes: number;
  readonly statuses: number[];
  readonly distinctTokens: number;
  readonly holders: readonly string[];
  readonly holderMs: number | undefined;
  /** Each waiter's latency minus the holder's. */
  readonly extraWaits: number[];
  readonly dynamoDb: Map<string, number>;
  readonly wallMs: number;
}

async function refreshStorms(
  stack: LocalStack,
  emulator: IntuitEmulator,
  exchange: EmulatorExchange,
  seed: Seeder,
  container: TokenApiContainer,
  client: TokenApiClient,
  dynamoRequests: Tally,
  parameters: TokenApiParameters,
): Promise<Storm[]> {
  const storms: Storm[] = [];
  for (let s = 0; s < parameters.storms; s++) {
    const realmId = seed.newRealmId();
    emulator.setAccessTokenLifetime(STORM_ACCESS_LIFETIME_SECONDS);
    const tokens = await exchange.tokensFor(realmId);
    emulator.setAccessTokenLifetime(3600);
    await seed.write([{ realmId, tokens }]);
    const refreshesBefore = emulator.refreshCount();
    const dynamoBefore = dynamoRequests.snapshot();
    const started = performance.now();
    const callers = Array.from({ length: parameters.stormSize }, (_, i) => `storm-${s}-${i}`);
    const answers = await Promise.all(
      callers.map((caller) => client.accessToken(stack.url, realmId, caller)),
    );
    const wallMs = performance.now() - started;
    const holders = container.refreshers.get(realmId) ?? [];
    const holderIndex = holders.length === 1 ? callers.indexOf(holders[0]!) : -1;
    const holderMs = holderIndex >= 0 ? answers[holderIndex]!.ms : undefined;
    const tokensServed = new Set(
      answers
        .filter((a) => a.status === 200)
        .map((a) => (JSON.parse(a.body) as { accessToken?: unknown }).accessToken),
    );
    storms.push({
      refreshes: emulator.refreshCount() - refreshesBefore,
      statuses: answers.map((a) => a.status),
      distinctTokens: tokensServed.size,
      holders,
      holderMs,
      extraWaits:
        holderMs === undefined ? [] : answers.filter((_, i) => i !== holderIndex).map((a) => a.ms - holderMs),
      dynamoDb: dynamoRequests.since(dynamoBefore),
      wallMs,
    });
  }
  return storms;
}

// ---------------------------------------------------------------------------------------------
// 5: the refresher

interface RefresherRun {
  readonly stored: number;
  readonly dueStored: number;
  readonly report: KeepAliveRunReport;
  readonly durationMs: number;
  readonly dynamoDb: Map<string, number>;
  readonly kms: Record<KmsOperation, number>;
  readonly refreshesAtEmulator: number;
  /** Seconds spent writing this table's new connections (not part of the run). */
  readonly seedSeconds: number;
}

async function refresherRuns(
  stack: LocalStack,
  exchange: EmulatorExchange,
  seed: Seeder,
  kms: LocalKms,
  dynamoRequests: Tally,
  parameters: TokenApiParameters,
): Promise<RefresherRun[]> {
  const emulator = stack.emulator!;
  const addDue = async (due: number): Promise<void> => {
    // Tokens the emulator issued with a 20-day window: due now, and their refresh succeeds.
    emulator.setRefreshTokenLifetime(DUE_REFRESH_LIFETIME_SECONDS);
    const companies = await pool(Array.from({ length: due }), 8, async () => {
      const realmId = seed.newRealmId();
      return { realmId, tokens: await exchange.tokensFor(realmId) };
    });
    emulator.setRefreshTokenLifetime(100 * 24 * 3600);
    await seed.write(companies);
  };
  // One unmeasured run first, so that neither measured run pays for the refresh path's first use.
  await addDue(WARMUP_DUE);
  await stack.runKeepAlive();
  const runs: RefresherRun[] = [];
  for (const size of [Math.ceil(parameters.storedConnections / 10), parameters.storedConnections]) {
    const seedStarted = performance.now();
    const due = Math.max(1, Math.round(size * DUE_SHARE));
    await addDue(due);
    // The earlier figures' connections and those an earlier run refreshed are stored and not due.
    const idle = size - seed.written;
    if (idle > 0) await seed.fresh('idle', idle);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const dynamoBefore = dynamoRequests.snapshot();
    const kmsBefore = kms.counts();
    const refreshesBefore = emulator.refreshCount();
    const started = performance.now();
    const report = await stack.runKeepAlive();
    runs.push({
      stored: seed.written,
      dueStored: due,
      report,
      durationMs: performance.now() - started,
      dynamoDb: dynamoRequests.since(dynamoBefore),
      kms: kmsSince(kms, kmsBefore),
      refreshesAtEmulator: emulator.refreshCount() - refreshesBefore,
      seedSeconds,
    });
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------
// Output

const perRequest = (count: number, requests: number): string =>
  requests > 0 ? (count / requests).toFixed(3) : 'n/a';
const throughput = (run: SystemRun): number => (run.requests / run.wallMs) * 1000;
const reads = (counts: ReadonlyMap<string, number>): number =>
  [...counts].filter(([name]) => READ_COMMANDS.has(name)).reduce((sum, [, count]) => sum + count, 0);

function printLatency(result: LatencyResult, parameters: TokenApiParameters): void {
  heading(
    `8.1 Access token with a fresh token over HTTP: the connector against a bare GetItem handler, ${result.connector.requests} requests each, C=${parameters.concurrency}, ${parameters.rounds} alternating rounds`,
  );
  const row = (name: string, run: SystemRun, reference: SystemRun | undefined): string[] => [
    name,
    String(run.requests),
    String(run.failures),
    fmt(percentile(run.latencies, 50), 2),
    fmt(percentile(run.latencies, 95), 2),
    fmt(percentile(run.latencies, 99), 2),
    fmt(throughput(run), 0),
    fmt(run.cpuMs / run.requests, 3),
    reference === undefined
      ? '1.00x'
      : ratio(percentile(run.latencies, 50), percentile(reference.latencies, 50)),
    reference === undefined
      ? '1.00x'
      : ratio(percentile(run.latencies, 95), percentile(reference.latencies, 95)),
    reference === undefined
      ? '1.00x'
      : ratio(percentile(run.latencies, 99), percentile(reference.latencies, 99)),
    reference === undefined ? '1.00x' : ratio(throughput(run), throughput(reference)),
    reference === undefined ? '1.00x' : ratio(run.cpuMs / run.requests, reference.cpuMs / reference.requests),
  ];
  log(
    table(
      [
        'System',
        'Requests',
        'Not 200',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'req/s',
        'CPU ms/req',
        'p50 vs control',
        'p95 vs control',
        'p99 vs control',
        'req/s vs control',
        'CPU vs control',
      ],
      [
        row('connector (POST /api/connections/{realmId}/access-token)', result.connector, result.control),
        row('control (one GetItem, JSON)', result.control, undefined),
      ],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    ),
  );
  log();
  log(
    `- ${HOT_COMPANIES} companies read round robin, each token valid for an hour (no refresh); ${WARMUP_REQUESTS} unmeasured requests per system first. ` +
      'CPU is this process (both servers, the emulator and the load generator), not DynamoDB Local.',
  );
}

function printWarmCosts(result: LatencyResult): void {
  heading("8.2 Requests per warm access-token call (the connector's measured requests of 8.1)");
  const requests = result.connector.requests;
  const dynamoTotal = total(result.dynamoDb);
  const readCount = reads(result.dynamoDb);
  const kmsCount = kmsTotalOf(result.kms);
  log(
    table(
      ['Per call', 'Connector', 'Control', 'Target', 'Met'],
      [
        [
          'DynamoDB reads',
          perRequest(readCount, requests),
          perRequest(reads(result.controlDynamoDb), result.control.requests),
          `${TARGETS.readsPerCall} read`,
          readCount === requests * TARGETS.readsPerCall ? 'yes' : 'NO',
        ],
        [
          'DynamoDB requests, all',
          perRequest(dynamoTotal, requests),
          perRequest(total(result.controlDynamoDb), result.control.requests),
          `${TARGETS.readsPerCall}`,
          dynamoTotal === requests * TARGETS.readsPerCall ? 'yes' : 'NO',
        ],
        [
          'KMS requests (repeat read within the data-key age)',
          perRequest(kmsCount, requests),
          '-',
          `${TARGETS.kmsPerWarmCall}`,
          kmsCount === TARGETS.kmsPerWarmCall ? 'yes' : 'NO',
        ],
      ],
      [1, 2],
    ),
  );
  log();
  log(`- DynamoDB requests by command: ${describeCounts(result.dynamoDb)}; KMS: ${describeKms(result.kms)}.`);
  log(
    `- The warm-up (each of the ${HOT_COMPANIES} companies' first read in this container) made ${describeKms(result.warmupKms)}.`,
  );
}

function describeKms(counts: Readonly<Record<KmsOperation, number>>): string {
  const parts = KMS_OPERATIONS.filter((operation) => counts[operation] > 0).map(
    (operation) => `${operation} ${counts[operation]}`,
  );
  return parts.length === 0 ? 'no KMS request' : parts.join(', ');
}

function printKmsRounds(rounds: readonly ReadRound[], sealing: SealingCost): void {
  heading(`8.3 KMS requests per access-token call over ${rounds[0]?.requests ?? 0} companies`);
  log(
    table(
      [
        'Round',
        'Requests',
        'Not 200',
        'KMS Decrypt',
        'KMS GenerateDataKey',
        'KMS per request',
        'DynamoDB per request',
        'p50 ms',
        'p95 ms',
      ],
      rounds.map((round) => [
        round.label,
        String(round.requests),
        String(round.failures),
        String(round.kms.Decrypt),
        String(round.kms.GenerateDataKey),
        perRequest(kmsTotalOf(round.kms), round.requests),
        perRequest(total(round.dynamoDb), round.requests),
        fmt(percentile(round.latencies, 50), 2),
        fmt(percentile(round.latencies, 95), 2),
      ]),
      [1, 2, 3, 4, 5, 6, 7, 8],
    ),
  );
  log();
  const second = rounds[1];
  log(
    `- Target: 1 KMS request on a company's first read in a container (its data key), 0 on a repeat within the data-key age (5 min); second round: ${second === undefined ? 'n/a' : kmsTotalOf(second.kms) === 0 ? 'met' : 'MISSED'}.`,
  );
  log(
    `- Context: sealing the section's ${sealing.companies} connections in another container (the callback's side) made ${describeKms(sealing.kms)}.`,
  );
}

function printStorms(storms: readonly Storm[], parameters: TokenApiParameters): void {
  heading(
    `8.4 Refresh storm: ${parameters.stormSize} concurrent access-token calls on an expired token, ${storms.length} storms on different companies`,
  );
  log(
    table(
      [
        'Storm',
        'Refreshes at Intuit',
        'Target',
        'Answers 200',
        'Distinct tokens served',
        'Holder ms',
        'Waiters extra p50 ms',
        'Waiters extra max ms',
        'DynamoDB requests',
        'Wall ms',
      ],
      storms.map((storm, i) => {
        const extra = ascending(storm.extraWaits);
        return [
          String(i + 1),
          String(storm.refreshes),
          `${TARGETS.refreshesPerStorm}`,
          `${storm.statuses.filter((s) => s === 200).length}/${storm.statuses.length}`,
          String(storm.distinctTokens),
          storm.holderMs === undefined ? `n/a (${storm.holders.length} holders)` : fmt(storm.holderMs, 1),
          fmt(percentile(extra, 50), 1),
          fmt(extra.length > 0 ? extra[extra.length - 1]! : Number.NaN, 1),
          String(total(storm.dynamoDb)),
          fmt(storm.wallMs, 1),
        ];
      }),
      [1, 2, 5, 6, 7, 8, 9],
    ),
  );
  const allExtra = ascending(storms.flatMap((s) => s.extraWaits));
  const holderMs = ascending(storms.flatMap((s) => (s.holderMs === undefined ? [] : [s.holderMs])));
  const met = storms.every((s) => s.refreshes === TARGETS.refreshesPerStorm);
  log();
  log(
    `- Over all storms: refreshes per storm ${storms.map((s) => s.refreshes).join(', ')} (target ${TARGETS.refreshesPerStorm}: ${met ? 'met' : 'MISSED'}); ` +
      `the holder answered in p50 ${fmt(percentile(holderMs, 50), 1)} ms; the waiters' extra wait over the holder: p50 ${fmt(percentile(allExtra, 50), 1)} ms, ` +
      `p95 ${fmt(percentile(allExtra, 95), 1)} ms, max ${fmt(allExtra.length > 0 ? allExtra[allExtra.length - 1]! : Number.NaN, 1)} ms.`,
  );
  const dynamoDb = new Map<string, number>();
  for (const storm of storms)
    for (const [name, count] of storm.dynamoDb) dynamoDb.set(name, (dynamoDb.get(name) ?? 0) + count);
  log(`- DynamoDB requests over all storms: ${describeCounts(dynamoDb)}.`);
  log(
    '- The holder is the request that stored the refreshed tokens (a header names each request); the waiters poll the item (first after 50 ms, backing off to 400 ms) until the version moves, ' +
      'or take the lease after the holder gave it back and find the tokens fresh.',
  );
}

function printRefresher(runs: readonly RefresherRun[]): void {
  heading(
    `8.5 The refresher: one keep-alive run over a table where ${(DUE_SHARE * 100).toFixed(0)}% of the connections are due`,
  );
  const readsOf = (run: RefresherRun): number => reads(run.dynamoDb);
  log(
    table(
      [
        'Stored connections',
        'Due',
        'Refreshed',
        'Index pages',
        'DynamoDB reads',
        'Reads per due',
        'Reads per stored',
        'Writes',
        'KMS',
        'Run ms',
        'ms per due',
        'Stopped early',
      ],
      runs.map((run) => [
        String(run.stored),
        String(run.report.due),
        String(run.report.outcomes.refreshed),
        String(run.report.indexPages),
        String(readsOf(run)),
        perRequest(readsOf(run), run.report.due),
        (readsOf(run) / run.stored).toFixed(4),
        String(total(run.dynamoDb) - readsOf(run)),
        String(kmsTotalOf(run.kms)),
        fmt(run.durationMs, 0),
        fmt(run.durationMs / Math.max(1, run.report.due), 1),
        run.report.stoppedEarly ? 'YES' : 'no',
      ]),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ),
  );
  log();
  for (const run of runs) {
    log(
      `- ${run.stored} stored: DynamoDB ${describeCounts(run.dynamoDb)}; KMS ${describeKms(run.kms)}; refreshes at the emulator ${run.refreshesAtEmulator}; outcomes ${JSON.stringify(run.report.outcomes)}; writing the table's new connections took ${run.seedSeconds.toFixed(1)} s (not part of the run).`,
    );
  }
  const [small, large] = runs;
  if (small !== undefined && large !== undefined) {
    log(
      `- Larger / smaller table: ${ratio(large.stored, small.stored)} the connections and ${ratio(large.report.due, small.report.due)} the due ones; ` +
        `reads ${ratio(readsOf(large), readsOf(small))}, reads per due connection ${ratio(readsOf(large) / large.report.due, readsOf(small) / small.report.due)}, ` +
        `run time ${ratio(large.durationMs, small.durationMs)}. Target: the cost follows the due count, not the total (reads per due about 1.00x or below; reads per stored falling).`,
    );
  }
  log(
    '- Reads are the due index pages, the two counts (reconnect required, near the 5-year cap, each a Query on its index) and one GetItem per due connection; the writes are the lease and the refreshed tokens.',
  );
}

/** What the figures mean, for the bench's closing legend. */
export const TOKEN_API_LEGEND: readonly string[] = [
  'Token API (8.1 to 8.5): the local stack with the token cipher on a counting in-process KMS (local/local-kms.ts, a real SDK client whose requests are answered in-process), ' +
    "not the local AES key, so KMS requests can be counted. Connections are written into the table directly in the store's own item shape, sealed by a second cipher instance (the callback's container).",
  '8.1 control: a bare node:http server doing one consistent GetItem of the same item (same DynamoDB Local, same document client settings) and answering JSON; ' +
    'connector / control is what authentication, the lifecycle, decryption (from the cache), logging and metrics add.',
  "8.5: reads are counted by the stack's DynamoDB middleware (onDynamoDbRequest) during the run only; the table is filled before, not counted.",
];
