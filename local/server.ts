/**
 * The local stack behind `npm start` and the integration tests: the same handlers as in Lambda,
 * behind a node:http server that turns requests into API Gateway HTTP API (v2) events, with
 * DynamoDB Local and, without real Intuit keys, the Intuit emulator. Never bundled into a Lambda.
 */
import { randomBytes, randomUUID } from 'node:crypto';
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
import { matchRoute } from '../lambdas/routes';
import { createDocumentClient } from '../lambdas/adapters/dynamodb-client';
import type { DynamoDbFlowLedger } from '../lambdas/adapters/dynamodb-flow-ledger';
import { connectorRuntime } from '../lambdas/handlers/connector-composition';
import type { RenderSettings } from '../lambdas/handlers/web/render';
import { renderSettingsOf } from '../lambdas/handlers/web/render';
import { createPowertoolsTelemetry } from '../lambdas/adapters/powertools-telemetry';
import { StaticCredentialsSource } from '../lambdas/adapters/secrets-manager-credentials';
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
import type { EmulatorOptions, IntuitEmulator } from './intuit-emulator';

type Env = Readonly<Record<string, string | undefined>>;

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
}

export interface LocalStack {
  readonly url: string;
  readonly connectUrl: string;
  readonly config: ServiceConfig;
  /** Present when the stack runs against the built-in emulator rather than Intuit. */
  readonly emulator?: IntuitEmulator;
  readonly dynamoDbEndpoint: string;
  readonly tables: { readonly flow: string; readonly connection: string };
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
        clients: [{ ...emulatorCredentials, redirectUris: [redirectUri] }],
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
      APP_NAME: env['APP_NAME'] ?? 'Local QuickBooks connector',
      QBO_ENVIRONMENT: qboEnvironment,
      QBO_REDIRECT_URI: redirectUri,
      ...(emulator !== undefined
        ? {
            QBO_AUTHORIZATION_ENDPOINT: emulator.authorizationEndpoint,
            QBO_TOKEN_ENDPOINT: emulator.tokenEndpoint,
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
    const runtime = connectorRuntime({
      config,
      credentials: new StaticCredentialsSource(
        credentials,
        config.qboEnvironment,
        useEmulator ? 'the emulator keys' : 'QBO_CLIENT_ID/QBO_CLIENT_SECRET',
      ),
      documentClient,
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
    const pages: RenderSettings = renderSettingsOf(config);
    bound.routes = {
      handlers: {
        connect: createConnectHandler(deps, telemetry, pages),
        callback: createCallbackHandler(deps, telemetry, pages),
        outcome: createOutcomeHandler(telemetry, pages),
      },
      pages,
      redirectUri: config.redirectUri,
    };

    return {
      url,
      connectUrl: `${url}${CONNECT_PATH}`,
      config,
      ...(emulator !== undefined ? { emulator } : {}),
      dynamoDbEndpoint,
      tables,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

interface Routes {
  readonly handlers: Readonly<Record<HandlerName, ApiHandler>>;
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
  const matched = matchRoute(rawPath);
  // Like API Gateway: drain the body so the socket stays usable.
  req.resume();
  const sameHost = sameHostAs(routes.redirectUri, req.headers.host);
  if (matched?.name === 'connect' && sameHost === false) {
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
  } else {
    const { name, route, parameters } = matched;
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
    result = await routes.handlers[name](event, lambdaContext(routeKey, route.timeoutSeconds * 1000));
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
