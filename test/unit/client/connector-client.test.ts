/**
 * The app client against a real HTTP server standing in for the connector: what it sends (auth
 * headers, a SigV4 signature recomputed here from the received request), how it reads each
 * answer, what it retries and what it never puts in an error.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConnectionNotFoundError,
  ConnectorApiError,
  ConnectorClient,
  InvalidRequestError,
  TemporarilyUnavailableError,
  UnauthorizedError,
  type ConnectorAuth,
  type ConnectorClientOptions,
} from '../../../client';

interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

type ScriptedAnswer =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | 'reset'
  | 'hang';

/** A node:http server that records every request and answers from a script, in order. */
class FakeConnector {
  readonly received: ReceivedRequest[] = [];
  readonly #script: ScriptedAnswer[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<FakeConnector> {
    const server = createServer();
    const connector = new FakeConnector(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        connector.received.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        // An unscripted request gets an answer no test expects, so it cannot pass unnoticed.
        const answer = connector.#script.shift() ?? { status: 418, body: { error: 'unscripted' } };
        if (answer === 'reset') {
          request.socket.destroy();
        } else if (answer !== 'hang') {
          const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
          response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          response.end(text);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return connector;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  answer(...answers: ScriptedAnswer[]): void {
    this.#script.push(...answers);
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      this.#server.close((error) => (error ? reject(error) : resolve())),
    );
  }
}

const REALM_ID = '9130357992222222';
const ACCESS_TOKEN = 'eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..SECRET-ACCESS-TOKEN';
const API_KEY = 'local-api-key-0f4c2b9e7d';
const STATIC_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const SESSION_CREDENTIALS = {
  accessKeyId: 'ASIAEXAMPLE',
  secretAccessKey: 'session/secret+key/EXAMPLE',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//session+token==',
};

const tokenAnswer = (overrides: Record<string, unknown> = {}) => ({
  status: 200,
  body: {
    realmId: REALM_ID,
    accessToken: ACCESS_TOKEN,
    tokenType: 'bearer',
    expiresAt: '2026-12-01T22:30:00.000Z',
    qboEnvironment: 'sandbox',
    apiBaseUrl: 'https://sandbox-quickbooks.api.intuit.com',
    ...overrides,
  },
});

const connectionBody = {
  realmId: REALM_ID,
  status: 'active',
  companyName: 'Sandbox Company_US_1',
  qboEnvironment: 'sandbox',
  connectedAt: '2026-11-30T10:00:00.000Z',
  lastRefreshedAt: '2026-12-01T21:30:00.000Z',
  accessTokenExpiresAt: '2026-12-01T22:30:00.000Z',
  refreshTokenExpiresAt: '2027-03-11T21:30:00.000Z',
  refreshTokenHardExpiresAt: '2031-11-30T10:00:00.000Z',
};

let connector: FakeConnector;
let sleeps: number[];

beforeEach(async () => {
  connector = await FakeConnector.start();
  sleeps = [];
});

afterEach(async () => {
  await connector.stop();
});

function client(options: Partial<ConnectorClientOptions> = {}): ConnectorClient {
  return new ConnectorClient({
    baseUrl: connector.baseUrl,
    auth: { kind: 'bearer', apiKey: API_KEY },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
}

const sigV4 = (credentials: Extract<ConnectorAuth, { kind: 'sigv4' }>['credentials']): ConnectorAuth => ({
  kind: 'sigv4',
  region: 'eu-west-1',
  credentials,
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error: unknown) {
    return error;
  }
  throw new Error('expected the call to fail');
}

// ---- SigV4, recomputed independently of the client's signer -----------------------------------

const AUTHORIZATION_SHAPE =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/execute-api\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const strictEncode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function header(request: ReceivedRequest, name: string): string {
  const value = request.headers[name];
  if (typeof value !== 'string') throw new Error(`request has no single ${name} header`);
  return value;
}

/** The signature AWS would compute for this request as received, per the SigV4 algorithm. */
function expectedSignature(request: ReceivedRequest, secretAccessKey: string, body = request.body): string {
  const match = AUTHORIZATION_SHAPE.exec(header(request, 'authorization'));
  if (match === null) throw new Error('authorization header is not SigV4');
  const [, , date = '', region = '', signedHeaders = ''] = match;
  const [path = '', rawQuery = ''] = request.url.split('?');
  // Non-S3 services encode each path segment once more than it was sent.
  const canonicalPath = path.split('/').map(strictEncode).join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const [name = '', value = ''] = pair.split('=');
      return [strictEncode(decodeURIComponent(name)), strictEncode(decodeURIComponent(value))] as const;
    })
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${header(request, name).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    request.method,
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    sha256Hex(body),
  ].join('\n');
  const scope = `${date}/${region}/execute-api/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    header(request, 'x-amz-date'),
    scope,
    sha256Hex(canonicalRequest),
  ].join('\n');
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), 'execute-api'),
    'aws4_request',
  );
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
}

function sentSignature(request: ReceivedRequest): string {
  return AUTHORIZATION_SHAPE.exec(header(request, 'authorization'))?.[5] ?? '';
}

// ---- the tests --------------------------------------------------------------------------------

describe('given the local connector (bearer key)', () => {
  it('asks for a token with the key and minValidSeconds, and returns it typed', async () => {
    connector.answer(tokenAnswer());
    const result = await client().getAccessToken(REALM_ID, { minValidSeconds: 600 });

    expect(result).toEqual({
      ok: true,
      token: {
        realmId: REALM_ID,
        accessToken: ACCESS_TOKEN,
        tokenType: 'bearer',
        expiresAt: new Date('2026-12-01T22:30:00.000Z'),
        qboEnvironment: 'sandbox',
        apiBaseUrl: 'https://sandbox-quickbooks.api.intuit.com',
      },
    });
    const [request] = connector.received;
    expect(request).toMatchObject({ method: 'POST', url: `/api/connections/${REALM_ID}/access-token` });
    expect(request?.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({ minValidSeconds: 600 });
  });

  it("sends no body without minValidSeconds, leaving the connector's default", async () => {
    connector.answer(tokenAnswer());
    await client().getAccessToken(REALM_ID);
    expect(connector.received[0]?.body).toBe('');
    expect(connector.received[0]?.headers['content-type']).toBeUndefined();
  });

  it('keeps a path prefix of the base URL (a stage or a proxy path)', async () => {
    connector.answer({ status: 204 });
    await client({ baseUrl: `${connector.baseUrl}/qbo/` }).disconnect(REALM_ID);
    expect(connector.received[0]?.url).toBe(`/qbo/api/connections/${REALM_ID}`);
  });
});

describe('given the deployed connector (SigV4)', () => {
  it('signs with the shape API Gateway expects: scope, host and x-amz-date signed, no content-sha256 header', async () => {
    connector.answer(tokenAnswer());
    await client({ auth: sigV4(STATIC_CREDENTIALS) }).getAccessToken(REALM_ID, { minValidSeconds: 900 });

    const request = connector.received[0]!;
    const match = AUTHORIZATION_SHAPE.exec(header(request, 'authorization'));
    expect(match).not.toBeNull();
    const [, accessKeyId, date, region, signedHeaders] = match!;
    expect(accessKeyId).toBe('AKIDEXAMPLE');
    expect(region).toBe('eu-west-1');
    expect(header(request, 'x-amz-date')).toMatch(/^\d{8}T\d{6}Z$/);
    expect(header(request, 'x-amz-date').startsWith(date!)).toBe(true);
    expect(signedHeaders!.split(';')).toEqual(expect.arrayContaining(['content-type', 'host', 'x-amz-date']));
    expect(request.headers['x-amz-security-token']).toBeUndefined();
    expect(request.headers['x-amz-content-sha256']).toBeUndefined();
  });

  it('signs what it sends: the signature recomputed from the received request matches, and a changed body would not', async () => {
    connector.answer(tokenAnswer());
    await client({ auth: sigV4(STATIC_CREDENTIALS) }).getAccessToken(REALM_ID, { minValidSeconds: 900 });

    const request = connector.received[0]!;
    expect(sentSignature(request)).toBe(expectedSignature(request, STATIC_CREDENTIALS.secretAccessKey));
    expect(sentSignature(request)).not.toBe(
      expectedSignature(request, STATIC_CREDENTIALS.secretAccessKey, '{"minValidSeconds":3300}'),
    );
    expect(sentSignature(request)).not.toBe(expectedSignature(request, 'another-secret'));
  });

  it('signs the query as sent, with characters that need encoding', async () => {
    connector.answer({ status: 200, body: { connections: [] } });
    const tenantId = "acme corp/eu*1 (o'neil)";
    const cursor = 'eyJyIjoiMSJ9+/=';
    await client({ auth: sigV4(STATIC_CREDENTIALS) }).listConnections({ tenantId, cursor });

    const request = connector.received[0]!;
    const received = new URL(request.url, 'http://host');
    expect(received.pathname).toBe('/api/connections');
    expect(received.searchParams.get('tenantId')).toBe(tenantId);
    expect(received.searchParams.get('cursor')).toBe(cursor);
    expect(sentSignature(request)).toBe(expectedSignature(request, STATIC_CREDENTIALS.secretAccessKey));
  });

  it('sends and signs the session token of temporary credentials, asking the provider before each request', async () => {
    let provided = 0;
    const credentials = async () => {
      provided += 1;
      return SESSION_CREDENTIALS;
    };
    connector.answer({ status: 200, body: connectionBody }, { status: 204 });
    const app = client({ auth: sigV4(credentials) });
    await app.getConnection(REALM_ID);
    await app.disconnect(REALM_ID);

    expect(provided).toBe(2);
    for (const request of connector.received) {
      expect(header(request, 'authorization')).toContain('Credential=ASIAEXAMPLE/');
      expect(request.headers['x-amz-security-token']).toBe(SESSION_CREDENTIALS.sessionToken);
      expect(AUTHORIZATION_SHAPE.exec(header(request, 'authorization'))?.[4]?.split(';')).toContain(
        'x-amz-security-token',
      );
      expect(sentSignature(request)).toBe(expectedSignature(request, SESSION_CREDENTIALS.secretAccessKey));
    }
    expect(connector.received.map((request) => request.method)).toEqual(['GET', 'DELETE']);
  });

  it("maps API Gateway's 403 for a bad signature to UnauthorizedError, without retrying", async () => {
    connector.answer({ status: 403, body: { message: 'Forbidden' } });
    const error = await caught(client({ auth: sigV4(STATIC_CREDENTIALS) }).getAccessToken(REALM_ID));
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ status: 403, code: 'unauthorized', message: 'Forbidden (HTTP 403)' });
    expect(connector.received).toHaveLength(1);
  });
});

describe('getAccessToken answers', () => {
  it('returns reconnect-required with the URL as a value, not an error', async () => {
    const reconnectUrl = `https://connector.example.com/connect?realmId=${REALM_ID}`;
    connector.answer({
      status: 409,
      body: {
        error: 'reconnect_required',
        reason: 'refresh_token_invalid',
        reconnectUrl,
        message: 'Reconnect.',
      },
    });
    const result = await client().getAccessToken(REALM_ID);
    expect(result).toEqual({
      ok: false,
      reconnectRequired: { reason: 'refresh_token_invalid', reconnectUrl, message: 'Reconnect.' },
    });
  });

  it.each([
    [
      404,
      { error: 'connection_not_found', message: 'No such connection.' },
      ConnectionNotFoundError,
      'connection_not_found',
    ],
    [
      400,
      { error: 'invalid_request', message: 'minValidSeconds is out of range.' },
      InvalidRequestError,
      'invalid_request',
    ],
    [401, { error: 'unauthorized' }, UnauthorizedError, 'unauthorized'],
  ])('maps %i to its typed error', async (status, body, type, code) => {
    connector.answer({ status, body, headers: { 'apigw-requestid': 'Abc123=' } });
    const error = await caught(client().getAccessToken(REALM_ID));
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ status, code, requestId: 'Abc123=' });
  });

  it('maps an answer it does not expect to the base ConnectorApiError', async () => {
    connector.answer({ status: 405, body: { error: 'method_not_allowed', message: 'Use POST.' } });
    const error = await caught(client().getAccessToken(REALM_ID));
    expect(error).toBeInstanceOf(ConnectorApiError);
    expect(error).not.toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ status: 405, code: 'method_not_allowed', message: 'Use POST. (HTTP 405)' });
  });

  it('refuses a malformed 200 answer as unexpected_response', async () => {
    connector.answer(tokenAnswer({ expiresAt: 'tomorrow' }));
    const error = await caught(client().getAccessToken(REALM_ID));
    expect(error).toMatchObject({ status: 200, code: 'unexpected_response' });
    expect((error as Error).message).toContain('"expiresAt"');
  });
});

describe('connections', () => {
  it('reads a connection with its times as Dates, and undefined for an unknown one', async () => {
    connector.answer(
      { status: 200, body: connectionBody },
      { status: 404, body: { error: 'connection_not_found' } },
    );
    const app = client();
    const connection = await app.getConnection(REALM_ID);
    expect(connection).toEqual({
      realmId: REALM_ID,
      status: 'active',
      companyName: 'Sandbox Company_US_1',
      qboEnvironment: 'sandbox',
      connectedAt: new Date('2026-11-30T10:00:00.000Z'),
      lastRefreshedAt: new Date('2026-12-01T21:30:00.000Z'),
      accessTokenExpiresAt: new Date('2026-12-01T22:30:00.000Z'),
      refreshTokenExpiresAt: new Date('2027-03-11T21:30:00.000Z'),
      refreshTokenHardExpiresAt: new Date('2031-11-30T10:00:00.000Z'),
    });
    expect(connection).not.toHaveProperty('tenantId');
    expect(await app.getConnection('1234')).toBeUndefined();
    expect(connector.received.map((request) => `${request.method} ${request.url}`)).toEqual([
      `GET /api/connections/${REALM_ID}`,
      'GET /api/connections/1234',
    ]);
  });

  it("lists a tenant's connections with the next page's cursor", async () => {
    const disconnected = {
      realmId: '4620816365',
      status: 'disconnected',
      qboEnvironment: 'production',
      connectedAt: '2026-10-01T08:00:00Z',
    };
    connector.answer({
      status: 200,
      body: { connections: [connectionBody, disconnected], cursor: 'next-page' },
    });
    const page = await client().listConnections({ tenantId: 'tenant-7' });
    expect(page.cursor).toBe('next-page');
    expect(page.connections.map((connection) => [connection.realmId, connection.status])).toEqual([
      [REALM_ID, 'active'],
      ['4620816365', 'disconnected'],
    ]);
    expect(connector.received[0]?.url).toBe('/api/connections?tenantId=tenant-7');
  });

  it('disconnects: true on 204, false for an unknown company', async () => {
    connector.answer({ status: 204 }, { status: 404, body: { error: 'connection_not_found' } });
    const app = client();
    expect(await app.disconnect(REALM_ID)).toBe(true);
    expect(await app.disconnect('1234')).toBe(false);
    expect(connector.received.map((request) => request.method)).toEqual(['DELETE', 'DELETE']);
  });
});

describe('connect links and signed redirects', () => {
  it('createConnectLink posts the tenant and lifetime and returns the link with its expiry as a Date', async () => {
    const url = 'https://connect.example.com/connect?tenant=tenant-7&exp=1796125500&nonce=n&sig=s';
    connector.answer({ status: 201, body: { url, expiresAt: '2026-12-01T12:05:00.000Z' } });
    const link = await client().createConnectLink({ tenantId: 'tenant-7', expiresInSeconds: 600 });
    expect(link).toEqual({ url, expiresAt: new Date('2026-12-01T12:05:00.000Z') });
    expect(connector.received.map((r) => [r.method, r.url, JSON.parse(r.body) as unknown])).toEqual([
      ['POST', '/api/connect-links', { tenantId: 'tenant-7', expiresInSeconds: 600 }],
    ]);
    expect(header(connector.received[0]!, 'authorization')).toBe(`Bearer ${API_KEY}`);
  });

  it.each([
    ['a tenant with a space', { tenantId: 'a b' }],
    ['an empty tenant', { tenantId: '' }],
    ['a lifetime of 59 s', { tenantId: 't', expiresInSeconds: 59 }],
    ['a lifetime of 3601 s', { tenantId: 't', expiresInSeconds: 3601 }],
  ])('createConnectLink refuses %s before sending', async (_label, options) => {
    expect(await caught(client().createConnectLink(options))).toBeInstanceOf(InvalidRequestError);
    expect(connector.received).toEqual([]);
  });

  it('verifyConnectResult sends the query as received and reads the verdict', async () => {
    connector.answer(
      {
        status: 200,
        body: { valid: true, outcome: 'connected', realmId: REALM_ID, tenantId: 'tenant-7' },
      },
      { status: 200, body: { valid: false } },
    );
    const app = client();
    const query = `?realmId=${REALM_ID}&tenantId=tenant-7&ts=1796125200&sig=abc`;
    expect(await app.verifyConnectResult(query)).toEqual({
      valid: true,
      outcome: 'connected',
      realmId: REALM_ID,
      tenantId: 'tenant-7',
    });
    expect(await app.verifyConnectResult('realmId=1&sig=forged')).toEqual({ valid: false });
    expect(connector.received.map((r) => [r.url, JSON.parse(r.body) as unknown])).toEqual([
      ['/api/connect-results/verify', { query }],
      ['/api/connect-results/verify', { query: 'realmId=1&sig=forged' }],
    ]);
  });

  it('verifyConnectResult treats an answer that is not a verdict as an error, never as valid', async () => {
    connector.answer({ status: 200, body: { valid: 'yes' } });
    const error = await caught(client().verifyConnectResult('ts=1&sig=x'));
    expect(error).toBeInstanceOf(ConnectorApiError);
  });
});

describe('retries', () => {
  it("waits the 503's Retry-After, then returns the token", async () => {
    connector.answer(
      {
        status: 503,
        body: { error: 'temporarily_unavailable', message: 'Try again.' },
        headers: { 'retry-after': '2' },
      },
      tokenAnswer(),
    );
    const result = await client().getAccessToken(REALM_ID);
    expect(result.ok).toBe(true);
    expect(sleeps).toEqual([2000]);
    expect(connector.received).toHaveLength(2);
  });

  it('backs off with full jitter on 429 and 5xx without Retry-After', async () => {
    connector.answer(
      { status: 429, body: { message: 'Too Many Requests' } },
      { status: 502, body: { message: 'Bad Gateway' } },
      tokenAnswer(),
    );
    const result = await client({ retry: { baseDelayMs: 200 } }).getAccessToken(REALM_ID);
    expect(result.ok).toBe(true);
    // random() is 0.5: half of 200 * 2^0, then half of 200 * 2^1.
    expect(sleeps).toEqual([100, 200]);
  });

  it('caps the backoff at maxDelayMs', async () => {
    connector.answer({ status: 500 }, { status: 500 }, { status: 500 }, { status: 204 });
    await client({ retry: { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 1500 } }).disconnect(REALM_ID);
    expect(sleeps).toEqual([500, 750, 750]);
  });

  it('stops after maxAttempts with TemporarilyUnavailableError carrying Retry-After', async () => {
    const unavailable = {
      status: 503,
      body: { error: 'temporarily_unavailable', message: 'Intuit did not answer the refresh.' },
      headers: { 'retry-after': '1' },
    };
    connector.answer(unavailable, unavailable, unavailable, unavailable);
    const error = await caught(client({ retry: { maxAttempts: 3 } }).getAccessToken(REALM_ID));
    expect(error).toBeInstanceOf(TemporarilyUnavailableError);
    expect(error).toMatchObject({ status: 503, code: 'temporarily_unavailable', retryAfterSeconds: 1 });
    expect((error as Error).message).toBe(
      'Intuit did not answer the refresh. (HTTP 503, 3 attempts; retry after 1 s)',
    );
    expect(connector.received).toHaveLength(3);
    expect(sleeps).toEqual([1000, 1000]);
  });

  it('gives up at once when Retry-After is longer than maxDelayMs, handing it to the app', async () => {
    connector.answer({
      status: 503,
      body: { error: 'temporarily_unavailable' },
      headers: { 'retry-after': '30' },
    });
    const error = await caught(client().getAccessToken(REALM_ID));
    expect(error).toMatchObject({ status: 503, retryAfterSeconds: 30 });
    expect(connector.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('maps throttling that outlasts the retries to TemporarilyUnavailableError with code throttled', async () => {
    connector.answer({ status: 429 }, { status: 429 });
    const error = await caught(client({ retry: { maxAttempts: 2 } }).getConnection(REALM_ID));
    expect(error).toBeInstanceOf(TemporarilyUnavailableError);
    expect(error).toMatchObject({ status: 429, code: 'throttled', retryAfterSeconds: undefined });
  });

  it.each([
    [400, { error: 'invalid_request' }],
    [401, { error: 'unauthorized' }],
    [403, { message: 'Forbidden' }],
    [404, { error: 'connection_not_found' }],
    [
      409,
      {
        error: 'reconnect_required',
        reason: 'disconnected',
        reconnectUrl: 'https://connector.example.com/connect',
      },
    ],
  ])('never retries %i', async (status, body) => {
    connector.answer({ status, body }, tokenAnswer());
    await client()
      .getAccessToken(REALM_ID)
      .catch(() => undefined);
    expect(connector.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('retries a connection reset, and reports one that persists as network_error', async () => {
    connector.answer('reset', tokenAnswer());
    expect((await client().getAccessToken(REALM_ID)).ok).toBe(true);
    expect(connector.received).toHaveLength(2);

    connector.answer('reset', 'reset');
    const error = await caught(client({ retry: { maxAttempts: 2 } }).getAccessToken(REALM_ID));
    expect(error).toBeInstanceOf(TemporarilyUnavailableError);
    expect(error).toMatchObject({ status: undefined, code: 'network_error' });
    expect((error as Error).cause).toBeDefined();
  });

  it('bounds each attempt by timeoutMs', async () => {
    connector.answer('hang');
    const error = await caught(client({ timeoutMs: 50, retry: { maxAttempts: 1 } }).getAccessToken(REALM_ID));
    expect(error).toMatchObject({ status: undefined, code: 'timeout' });
  });
});

describe('refused before sending', () => {
  it.each(['', '12a4', '../1234', ' 1234', '١٢٣'])(
    'refuses realmId %p without a request',
    async (realmId) => {
      const app = client();
      for (const call of [
        () => app.getAccessToken(realmId),
        () => app.getConnection(realmId),
        () => app.disconnect(realmId),
      ]) {
        const error = await caught(call());
        expect(error).toBeInstanceOf(InvalidRequestError);
        expect(error).toMatchObject({ status: undefined, code: 'invalid_request' });
      }
      expect(connector.received).toHaveLength(0);
    },
  );

  it.each([-1, 1.5, 3301, Number.NaN])(
    'refuses minValidSeconds %p without a request',
    async (minValidSeconds) => {
      const error = await caught(client().getAccessToken(REALM_ID, { minValidSeconds }));
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(connector.received).toHaveLength(0);
    },
  );

  it('refuses an empty tenantId without a request', async () => {
    await expect(client().listConnections({ tenantId: '' })).rejects.toBeInstanceOf(InvalidRequestError);
    expect(connector.received).toHaveLength(0);
  });

  it('refuses unusable options at construction', () => {
    expect(() => client({ baseUrl: 'localhost:3000/x?y' })).toThrow(TypeError);
    expect(() => client({ baseUrl: 'ftp://connector.example.com' })).toThrow(TypeError);
    expect(() => client({ auth: { kind: 'bearer', apiKey: '' } })).toThrow(TypeError);
    expect(() => client({ retry: { maxAttempts: 0 } })).toThrow(RangeError);
  });
});

describe('secrets in errors', () => {
  const secrets = [
    ACCESS_TOKEN,
    API_KEY,
    STATIC_CREDENTIALS.secretAccessKey,
    SESSION_CREDENTIALS.sessionToken,
  ];
  const expectFreeOfSecrets = (error: unknown) => {
    const shown = [(error as Error).message, JSON.stringify(error), String(error)].join('\n');
    for (const secret of secrets) expect(shown).not.toContain(secret);
  };

  it('never quotes the access token of a malformed 200 answer', async () => {
    connector.answer(tokenAnswer({ tokenType: 'mac' }), tokenAnswer({ qboEnvironment: ACCESS_TOKEN }));
    const app = client();
    const errors = [await caught(app.getAccessToken(REALM_ID)), await caught(app.getAccessToken(REALM_ID))];
    for (const error of errors) {
      expect(error).toMatchObject({ code: 'unexpected_response' });
      expectFreeOfSecrets(error);
    }
  });

  it('never quotes the bearer key or the signing credentials', async () => {
    connector.answer(
      { status: 401, body: { error: 'unauthorized' } },
      { status: 403, body: { message: 'Forbidden' } },
    );
    const errors = [
      await caught(client().getAccessToken(REALM_ID)),
      await caught(client({ auth: sigV4(SESSION_CREDENTIALS) }).getAccessToken(REALM_ID)),
      await caught(client().getAccessToken(ACCESS_TOKEN)),
    ];
    expect(errors.map((error) => (error as ConnectorApiError).code)).toEqual([
      'unauthorized',
      'unauthorized',
      'invalid_request',
    ]);
    for (const error of errors) expectFreeOfSecrets(error);
  });
});
