/**
 * The local stack behind `npm start` and the integration tests: the same handlers as in Lambda,
 * behind a node:http server that turns requests into API Gateway HTTP API (v2) events, with
 * DynamoDB Local and, without real Intuit keys, the Intuit emulator. Never bundled into a Lambda.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadServiceConfig } from '../lambdas/core/config';
import type { ServiceConfig } from '../lambdas/core/config';
import { ConfigError } from '../lambdas/core/errors';
import type { ConnectorRuntime, FlowDependencies } from '../lambdas/core/runtime';
import { once } from '../lambdas/core/runtime';
import { pageResponse } from '../lambdas/handlers/web/http-responses';
import { CONNECT_PATH } from '../lambdas/handlers/web/paths';
import type { HandlerName } from '../lambdas/routes';
import { FUNCTIONS, matchRoute } from '../lambdas/routes';
import type { ConnectionStore } from '../lambdas/core/connection-store';
import type { KeepAliveRunReport } from '../lambdas/core/keep-alive';
import type { TokenDependencies } from '../lambdas/core/runtime';
import type { DynamoDbConnectionStore } from '../lambdas/adapters/dynamodb-connection-store';
import { localTokenCipher } from '../lambdas/adapters/encryption-sdk-token-cipher';
import { apiError } from '../lambdas/handlers/api/json-responses';
import { tokenRuntime } from '../lambdas/handlers/token-composition';
import { createRefresherHandler, createTokenFunctionHandler } from '../lambdas/handlers/token-factories';
import { createDocumentClient } from '../lambdas/adapters/dynamodb-client';
import type { DynamoDbFlowLedger } from '../lambdas/adapters/dynamodb-flow-ledger';
import { connectorRuntime } from '../lambdas/handlers/connector-composition';
import type { RenderSettings } from '../lambdas/handlers/web/render';
import { renderSettingsOf } from '../lambdas/handlers/web/render';
import { createPowertoolsTelemetry } from '../lambdas/adapters/powertools-telemetry';
import { StaticCredentialsSource } from '../lambdas/adapters/secrets-manager-credentials';
import { StaticConnectLinkKeySource } from '../lambdas/adapters/secrets-manager-connect-link-key';
import { connectLinkSecretBytes } from '../lambdas/core/connect-links';
import type { ApiHandler } from '../lambdas/handlers/api-gateway';
import { toApiGatewayResult } from '../lambdas/handlers/api-gateway';
import {
  createCallbackHandler,
  createConnectHandler,
  createOutcomeHandler,
} from '../lambdas/handlers/factories';
import { ensureTables, LOCAL_AWS, observeRequests, startDynamoDbLocal } from './dynamodb-local';
import type { RunningDynamoDb } from './dynamodb-local';
import { startIntuitEmulator } from './intuit-emulator';
import { startConnectionStreamReader } from './connection-stream-reader';
import type { LifecycleEvent } from '../lambdas/core/lifecycle-events';
import type { LifecycleEventPublisher } from '../lambdas/core/lifecycle-publishing';
import { publishLifecycleEvents } from '../lambdas/core/lifecycle-publishing';
import { deliverWebhookWithRetries } from '../lambdas/core/webhook-delivery';
import { StandardWebhookSender } from '../lambdas/adapters/webhook-sender';
import { sequencedChangesOf } from '../lambdas/handlers/event-factories';
import type { EmulatorOptions, IntuitEmulator } from './intuit-emulator';

type Env = Readonly<Record<string, string | undefined>>;

const LOCAL_APP_NAME = 'Local QuickBooks connector';

export interface LocalStackOptions {
  /** The variables of the README's configuration table (PORT, QBO_*, DYNAMODB_ENDPOINT, ...). */
  readonly env: Env;
  /** Overrides PORT; 0 picks a free port (tests). */
  readonly port?: number;
  /** Table name prefix, so parallel test files never share items. @default 'qbo-local' */
  readonly tablePrefix?: string;
  /** Emulator settings for tests (code lifetime, realm). */
  readonly emulator?: Partial<Omit<EmulatorOptions, 'clients' | 'port'>>;
  /** How long a duplicate waits for an in-flight exchange. @default 3000 */
  readonly inFlightWaitMs?: number;
  /** Keys the emulator accepts, instead of random ones (the log canary uses recognisable values). */
  readonly emulatorCredentials?: { readonly clientId: string; readonly clientSecret: string };
  /** Called once per DynamoDB request the handlers send (an SDK middleware, so SDK retries count too), for round-trip counts. */
  readonly onDynamoDbRequest?: (commandName: string) => void;
  /** Wraps the DynamoDB ledger, e.g. to count or break calls in tests and benchmarks. */
  readonly wrapLedger?: (ledger: DynamoDbFlowLedger) => ConnectorRuntime['ledger'];
  /** Sees every request before it is served (npm start warns about a host the flow cookie will not come back to). */
  readonly onRequest?: (request: IncomingMessage) => void;
  /** Wraps the token API's connection store, e.g. to count or break calls in tests and benchmarks. */
  readonly wrapStore?: (store: DynamoDbConnectionStore) => ConnectionStore;
  /**
   * How often the keep-alive runs (the schedule in AWS); 0 never runs it on a timer (tests call
   * runKeepAlive). @default KEEP_ALIVE_INTERVAL_SECONDS, else 3600 s
   */
  readonly keepAliveIntervalMs?: number;
  /**
   * Reads the connections table's stream and publishes lifecycle events (log line, webhook). false
   * leaves the stream unread, as a process that died right after its writes. @default true
   */
  readonly lifecycleEvents?: boolean;
  /** Sees every lifecycle event this stack publishes (tests). */
  readonly onLifecycleEvent?: (event: LifecycleEvent) => void;
  /** Waits between webhook attempts; the last one given up after. @default WEBHOOK_BACKOFF_MS */
  readonly webhookBackoffMs?: readonly number[];
}

/** Local webhook retries: 8 attempts over about four minutes (AWS retries for hours, from a queue). */
export const WEBHOOK_BACKOFF_MS: readonly number[] = [
  1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000,
];

export interface LocalStack {
  readonly url: string;
  readonly connectUrl: string;
  readonly config: ServiceConfig;
  /** Present when the stack runs against the built-in emulator rather than Intuit. */
  readonly emulator?: IntuitEmulator;
  readonly dynamoDbEndpoint: string;
  readonly tables: { readonly flow: string; readonly connection: string };
  /** The bearer key the app API wants (H1): CONNECTOR_API_KEY, or one generated for this run. */
  readonly apiKey: string;
  /** True when the key was generated here (npm start prints it once). */
  readonly apiKeyGenerated: boolean;
  /** The token API's connection store (tokens opened with this run's key), for tests and tools. */
  connections(): ConnectionStore;
  /** How often the keep-alive timer runs (0: never). */
  readonly keepAliveIntervalMs: number;
  /** One keep-alive run now, as the schedule would start it. */
  runKeepAlive(): Promise<KeepAliveRunReport>;
  /** The lifecycle events published so far, in order (at least once: a restart may repeat some). */
  lifecycleEvents(): readonly LifecycleEvent[];
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { env } = options;
  const clientId = env['QBO_CLIENT_ID'];
  const clientSecret = env['QBO_CLIENT_SECRET'];
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    throw new ConfigError([
      'set both QBO_CLIENT_ID and QBO_CLIENT_SECRET (real Intuit keys) or neither (built-in emulator)',
    ]);
  }
  const useEmulator = clientId === undefined;

  const cleanups: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    // The server listens before the handlers exist: the redirect URI needs the port it got.
    const bound: { routes?: Routes } = {};
    // A generous header limit so oversized queries reach the handler and get its 400 page, as
    // behind API Gateway, instead of Node's bare 431.
    const server = createServer({ maxHeaderSize: 2 * 1024 * 1024 }, (req, res) => {
      options.onRequest?.(req);
      if (bound.routes === undefined) {
        res.writeHead(503).end();
        return;
      }
      void serve(bound.routes, req, res);
    });
    const port = options.port ?? Number(env['PORT'] ?? 3000);
    await listen(server, port);
    cleanups.push(() => closeServer(server));
    const actualPort = (server.address() as { port: number }).port;
    const url = `http://localhost:${actualPort}`;

    const qboEnvironment = env['QBO_ENVIRONMENT'] ?? 'sandbox';
    const redirectUri = env['QBO_REDIRECT_URI'] ?? `${url}/callback`;
    let emulator: IntuitEmulator | undefined;
    let credentials = { clientId, clientSecret, environment: qboEnvironment };
    if (useEmulator) {
      // Fresh keys per run: nothing to configure, and nothing that looks like a real secret.
      const emulatorCredentials = options.emulatorCredentials ?? {
        clientId: 'EMULATOR-' + randomBytes(6).toString('hex'),
        clientSecret: randomBytes(24).toString('base64url'),
      };
      emulator = await startIntuitEmulator({
        ...options.emulator,
        clients: [
          {
            ...emulatorCredentials,
            redirectUris: [redirectUri],
            appName: env['APP_NAME'] ?? LOCAL_APP_NAME,
          },
        ],
      });
      cleanups.push(() => emulator!.close());
      credentials = { ...emulatorCredentials, environment: qboEnvironment };
    }

    let dynamoDbEndpoint = env['DYNAMODB_ENDPOINT'];
    if (dynamoDbEndpoint === undefined || dynamoDbEndpoint === '') {
      const dynamo: RunningDynamoDb = await startDynamoDbLocal();
      cleanups.push(() => dynamo.stop());
      dynamoDbEndpoint = dynamo.endpoint;
    }
    const prefix = options.tablePrefix ?? 'qbo-local';
    const tables = { flow: `${prefix}-flows`, connection: `${prefix}-connections` };
    await ensureTables(dynamoDbEndpoint, tables);

    const config = loadServiceConfig({
      ...env,
      APP_ENV: env['APP_ENV'] ?? 'local',
      APP_NAME: env['APP_NAME'] ?? LOCAL_APP_NAME,
      QBO_ENVIRONMENT: qboEnvironment,
      QBO_REDIRECT_URI: redirectUri,
      ...(emulator !== undefined
        ? {
            QBO_AUTHORIZATION_ENDPOINT: emulator.authorizationEndpoint,
            QBO_TOKEN_ENDPOINT: emulator.tokenEndpoint,
            QBO_REVOCATION_ENDPOINT: emulator.revocationEndpoint,
            QBO_API_BASE_URL: emulator.apiBaseUrl,
          }
        : {}),
      FLOW_TABLE_NAME: tables.flow,
      CONNECTION_TABLE_NAME: tables.connection,
    });
    const documentClient = createDocumentClient({
      ...LOCAL_AWS,
      endpoint: dynamoDbEndpoint,
      // One process serves every concurrent request here (a Lambda serves one at a time), and
      // DynamoDB Local (one JVM) on a busy 2-core machine can take seconds where DynamoDB takes
      // milliseconds. Enough sockets that no request queues for one (a queued request counts
      // against connectionTimeout), and bounds that do not turn slowness into "try again" pages.
      requestHandler: {
        connectionTimeout: 10_000,
        requestTimeout: 15_000,
        httpAgent: { keepAlive: true, maxSockets: 512 },
      },
    });
    cleanups.push(async () => documentClient.destroy());
    observeRequests(documentClient, options.onDynamoDbRequest);
    // The same composition root as the Lambda entries, with the local parts.
    const runtimeCredentials = new StaticCredentialsSource(
      credentials,
      config.qboEnvironment,
      useEmulator ? 'the emulator keys' : 'QBO_CLIENT_ID/QBO_CLIENT_SECRET',
    );
    // The same Encryption SDK path as in AWS, with a local wrapping key in place of KMS (H3). DynamoDB
    // Local keeps nothing between runs, so a key per run is enough unless CONNECTOR_TOKEN_KEY is set.
    const tokenCipher = localTokenCipher({ key: localTokenKey(env), environment: config.appEnv });
    // CONNECT_LINK_KEY when set, else a key for this run: links minted by this run work in it only.
    const connectLinkKeys = new StaticConnectLinkKeySource(localConnectLinkKey(env));
    const runtime = connectorRuntime({
      config,
      credentials: runtimeCredentials,
      tokenEncrypter: tokenCipher,
      documentClient,
      connectLinkKeys,
      ...(options.wrapLedger !== undefined ? { wrapLedger: options.wrapLedger } : {}),
    });

    const telemetry = createPowertoolsTelemetry(config.appEnv);
    const deps: FlowDependencies<ConnectorRuntime> = {
      runtime: once(() => runtime),
      telemetry,
      clock: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...(options.inFlightWaitMs !== undefined ? { inFlightWaitMs: options.inFlightWaitMs } : {}),
      fallbackAppName: config.appName,
    };
    const tokens: TokenDependencies = {
      runtime: once(() =>
        tokenRuntime({
          config,
          credentials: runtimeCredentials,
          documentClient,
          tokenCipher,
          connectLinkKeys,
          ...(options.wrapStore !== undefined ? { wrapStore: options.wrapStore } : {}),
        }),
      ),
      telemetry,
      clock: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
    const refresher = createRefresherHandler(tokens, telemetry);
    const runKeepAlive = () =>
      refresher({}, lambdaContext('refresher', FUNCTIONS.refresher.timeoutSeconds * 1000));
    const keepAliveIntervalMs =
      options.keepAliveIntervalMs ?? Number(env['KEEP_ALIVE_INTERVAL_SECONDS'] ?? 3600) * 1000;
    if (keepAliveIntervalMs > 0) {
      // The schedule's stand-in; a run that fails is logged by the handler and tried next time.
      const timer = setInterval(() => void runKeepAlive().catch(() => undefined), keepAliveIntervalMs);
      timer.unref();
      cleanups.push(async () => clearInterval(timer));
    }
    const published: LifecycleEvent[] = [];
    if (options.lifecycleEvents ?? true) {
      const webhook = localWebhookSender(env);
      const deliveries = new Set<Promise<boolean>>();
      const pendingSleeps = new Set<() => void>();
      let closing = false;
      // Cut short by close(), so a delivery still retrying ends (abandoned) instead of holding the process.
      const sleep = (ms: number) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(done, ms);
          function done(): void {
            clearTimeout(timer);
            pendingSleeps.delete(done);
            resolve();
          }
          pendingSleeps.add(done);
        });
      const publisher: LifecycleEventPublisher = {
        publish: async (events) => {
          for (const event of events) {
            published.push(event);
            options.onLifecycleEvent?.(event);
            if (webhook === undefined) continue;
            const delivery = deliverWebhookWithRetries(event, {
              sender: webhook,
              telemetry,
              sleep,
              backoffMs: options.webhookBackoffMs ?? WEBHOOK_BACKOFF_MS,
              stopped: () => closing,
            }).finally(() => deliveries.delete(delivery));
            deliveries.add(delivery);
          }
          return events.map(() => true);
        },
      };
      const reader = await startConnectionStreamReader({
        endpoint: dynamoDbEndpoint,
        tableName: tables.connection,
        onBatch: async (records) =>
          (await publishLifecycleEvents(sequencedChangesOf(records, Date.now()), { publisher, telemetry }))
            .firstFailedSequenceNumber,
        // The reader keeps polling, so a DynamoDB Local hiccup costs a retry, not the stream.
        onError: (error) =>
          process.stderr.write(
            `lifecycle events: reading the connections stream failed (${error instanceof Error ? error.name : 'unknown'}: ${error instanceof Error ? error.message : String(error)}); retrying\n`,
          ),
      });
      cleanups.push(async () => {
        await reader.close();
        closing = true;
        for (const wake of [...pendingSleeps]) wake();
        await Promise.all([...deliveries]);
      });
    }
    const apiKey = localApiKey(env);
    const pages: RenderSettings = renderSettingsOf(config);
    bound.routes = {
      handlers: {
        connect: createConnectHandler(deps, telemetry, pages),
        callback: createCallbackHandler(deps, telemetry, pages),
        outcome: createOutcomeHandler(telemetry, pages),
        api: createTokenFunctionHandler(tokens, telemetry, pages),
      },
      pages,
      redirectUri: config.redirectUri,
      apiKeyDigest: digest(apiKey),
    };

    return {
      url,
      connectUrl: `${url}${CONNECT_PATH}`,
      config,
      ...(emulator !== undefined ? { emulator } : {}),
      dynamoDbEndpoint,
      tables,
      apiKey,
      apiKeyGenerated: (env['CONNECTOR_API_KEY'] ?? '') === '',
      keepAliveIntervalMs,
      runKeepAlive,
      lifecycleEvents: () => [...published],
      connections: () => tokens.runtime().connections,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

interface Routes {
  readonly handlers: Readonly<Record<Exclude<HandlerName, 'refresher' | 'events' | 'webhooks'>, ApiHandler>>;
  /** sha256 of the app API's bearer key, compared in constant time. */
  readonly apiKeyDigest: Buffer;
  readonly pages: RenderSettings;
  /** Where Intuit sends the browser back: a flow must start on the same host. */
  readonly redirectUri: string;
}

/** The routes of the registry (lambdas/routes.ts), as API Gateway routes them. */
async function serve(routes: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const rawUrl = req.url ?? '/';
  const queryIndex = rawUrl.indexOf('?');
  const rawPath = queryIndex < 0 ? rawUrl : rawUrl.slice(0, queryIndex);
  const rawQueryString = queryIndex < 0 ? '' : rawUrl.slice(queryIndex + 1);
  // As API Gateway routes: by method and path. A browser route's function answers another method
  // itself (a 405 page); under /api/ the catch-all route does (a JSON 405).
  const byPath = matchRoute(rawPath);
  const matched = matchRoute(rawPath, method) ?? (byPath?.route.kind === 'browser' ? byPath : undefined);
  // Like API Gateway: read the body (the app API's, up to its limit) or drain it.
  const bodyText = readBody(req);
  let body: string | undefined;
  const sameHost = sameHostAs(routes.redirectUri, req.headers.host);
  if ((matched?.name === 'connect' || matched?.name === 'reconnect') && sameHost === false) {
    // The browser keeps the flow cookie per host name: a flow started on 127.0.0.1 would come back
    // to localhost without it. Start it on the redirect URI's host instead (local runs only).
    const target = `${new URL(routes.redirectUri).origin}${rawUrl}`;
    res.writeHead(307, { Location: target, 'Cache-Control': 'no-store', 'Content-Length': '0' }).end();
    return;
  }
  let result: APIGatewayProxyStructuredResultV2;
  if (matched === undefined) {
    result = toApiGatewayResult(
      pageResponse(
        404,
        'not-found',
        { appName: routes.pages.appName, connectPath: CONNECT_PATH },
        routes.pages.https,
      ),
    );
  } else if (matched.route.kind === 'api' && !bearerMatches(routes.apiKeyDigest, req.headers.authorization)) {
    // API Gateway's IAM authoriser answers before any function runs; locally the bearer key does (H1).
    result = toApiGatewayResult(
      apiError(
        401,
        'unauthorized',
        'Send Authorization: Bearer <CONNECTOR_API_KEY>.',
        {},
        { 'WWW-Authenticate': 'Bearer' },
      ),
    );
  } else {
    const { route, parameters } = matched;
    const name = route.handler;
    if (name === 'refresher' || name === 'events' || name === 'webhooks')
      throw new Error(`the ${name} function has no route`);
    const routeKey = `${route.method} ${route.path}`;
    const pathParameters = Object.fromEntries(
      Object.entries(parameters).map(([key, value]) => [key, safeDecode(value)]),
    );
    const event = toEvent(
      req,
      method,
      rawPath,
      rawQueryString,
      routeKey,
      Object.keys(pathParameters).length > 0 ? pathParameters : undefined,
    );
    // The deployed function's timeout, so local deadlines match Lambda's.
    if (route.kind === 'api') {
      body = await bodyText;
      (event.requestContext as { authorizer?: unknown }).authorizer = { iam: { userArn: 'local' } };
    }
    result = await routes.handlers[name](
      body === undefined ? event : { ...event, body },
      lambdaContext(routeKey, FUNCTIONS[name].timeoutSeconds * 1000),
    );
  }
  writeResult(res, result);
}

function toEvent(
  req: IncomingMessage,
  method: string,
  rawPath: string,
  rawQueryString: string,
  routeKey: string,
  pathParameters: Record<string, string> | undefined,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'cookie' || value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // API Gateway v2 delivers cookies as an array and joins repeated query parameters with commas.
  const cookies = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  }
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(pathParameters !== undefined ? { pathParameters } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers['host'] ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
}

function lambdaContext(routeKey: string, timeoutMs: number): Context {
  const functionName = `local-${routeKey.replace(/[^a-z]/gi, '-').toLowerCase()}`;
  const endsAt = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies !== undefined && result.cookies.length > 0) headers['Set-Cookie'] = result.cookies;
  const body = result.body ?? '';
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}

/** Whether a Host header names the redirect URI's host; undefined when it cannot tell. */
function sameHostAs(redirectUri: string, hostHeader: string | undefined): boolean | undefined {
  if (hostHeader === undefined) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname === new URL(redirectUri).hostname;
  } catch {
    return undefined;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // localhost, not 127.0.0.1: the redirect URI Intuit accepts for sandbox keys is http://localhost.
    // A deep backlog: a burst of new connections waits in the kernel, not refused or retried.
    server.listen({ port, host: 'localhost', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** API Gateway passes bodies up to 10 MB; the app API reads a few bytes. Beyond 64 KiB is dropped. */
const MAX_LOCAL_BODY_BYTES = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_LOCAL_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** H1 locally: `Authorization: Bearer <key>`, compared in constant time (digests of equal length). */
function bearerMatches(expected: Buffer, header: string | undefined): boolean {
  const presented = /^Bearer ([^\s]+)$/.exec(header ?? '')?.[1];
  return timingSafeEqual(expected, digest(presented ?? '')) && presented !== undefined;
}

/** CONNECTOR_API_KEY when set (long enough to be a secret), else a random one for this run. */
function localApiKey(env: Env): string {
  const configured = env['CONNECTOR_API_KEY'] ?? '';
  if (configured === '') return randomBytes(24).toString('base64url');
  if (configured.length < 16 || /\s/.test(configured))
    throw new ConfigError(['CONNECTOR_API_KEY must be at least 16 characters without spaces']);
  return configured;
}

/** APP_WEBHOOK_URL with APP_WEBHOOK_SECRET (`whsec_` and base64, as `standardwebhooks` reads it), or no webhook. */
function localWebhookSender(env: Env): StandardWebhookSender | undefined {
  const url = env['APP_WEBHOOK_URL'] ?? '';
  const secret = env['APP_WEBHOOK_SECRET'] ?? '';
  if (url === '' && secret === '') return undefined;
  if (url === '' || secret === '')
    throw new ConfigError(['set both APP_WEBHOOK_URL and APP_WEBHOOK_SECRET, or neither (no webhook)']);
  if (!/^https?:\/\//.test(url)) throw new ConfigError(['APP_WEBHOOK_URL must be an http(s) URL']);
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret) || Buffer.from(secret.slice(6), 'base64').length < 24)
    throw new ConfigError(['APP_WEBHOOK_SECRET must be whsec_ followed by at least 24 bytes in base64']);
  return new StandardWebhookSender({ url, secret });
}

/** CONNECTOR_TOKEN_KEY (base64, 32 bytes) when set, else a key for this run only. */
function localTokenKey(env: Env): Uint8Array {
  const raw = env['CONNECTOR_TOKEN_KEY'];
  if (raw === undefined || raw === '') return randomBytes(32);
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new ConfigError(['CONNECTOR_TOKEN_KEY must be 32 bytes, base64-encoded']);
  return key;
}

/** CONNECT_LINK_KEY (at least 32 characters) when set, else 32 random bytes for this run only. */
function localConnectLinkKey(env: Env): Uint8Array {
  const raw = env['CONNECT_LINK_KEY'];
  if (raw === undefined || raw === '') return randomBytes(32);
  const bytes = connectLinkSecretBytes(raw, 'CONNECT_LINK_KEY');
  if (typeof bytes === 'string') throw new ConfigError([bytes]);
  return bytes;
}
