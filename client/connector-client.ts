/**
 * The client apps use to get QuickBooks access tokens from the connector: the same calls against
 * `npm start` (bearer key) and against the deployed API (SigV4), with retries for the answers
 * worth retrying and typed errors for the rest.
 */
import {
  ConnectionNotFoundError,
  ConnectorApiError,
  InvalidRequestError,
  TemporarilyUnavailableError,
  UnauthorizedError,
} from './errors';
import {
  requestAuthorizer,
  type ConnectorAuth,
  type OutgoingRequest,
  type RequestAuthorizer,
} from './request-signing';
import {
  parseAccessToken,
  parseConnection,
  parseConnectionPage,
  parseConnectLink,
  parseConnectResult,
  parseReconnectRequired,
  readErrorBody,
  type AccessTokenResult,
  type ConnectLink,
  type ConnectResult,
  type Connection,
  type ConnectionPage,
} from './responses';

/** Retries of answers worth retrying: 429, 5xx (the connector's 503 included), network errors, timeouts. */
export interface RetryOptions {
  /**
   * Attempts per call, the first included; 1 turns retries off.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * The backoff's first ceiling: attempt n waits a random time up to `baseDelayMs * 2^(n-1)`
   * ("full jitter"), so many clients retrying at once spread out.
   * @default 200
   */
  readonly baseDelayMs?: number;
  /**
   * The longest wait between two attempts. An answer whose `Retry-After` asks for longer ends
   * the retries at once: the error carries `retryAfterSeconds` for the app to schedule its own.
   * @default 5000
   */
  readonly maxDelayMs?: number;
}

/** Options of a {@link ConnectorClient}. */
export interface ConnectorClientOptions {
  /**
   * The connector's API base URL, without `/api`: the stack's API endpoint output (e.g.
   * `https://abc123.execute-api.eu-west-1.amazonaws.com`) or `http://localhost:3000` locally.
   */
  readonly baseUrl: string | URL;
  /** Bearer key locally, SigV4 in AWS. */
  readonly auth: ConnectorAuth;
  /**
   * The fetch to send with (a proxy-aware or instrumented one).
   * @default globalThis.fetch
   */
  readonly fetch?: typeof globalThis.fetch;
  /** Retries; see {@link RetryOptions}. */
  readonly retry?: RetryOptions;
  /**
   * Bound on each attempt, answer body included. API Gateway gives up after 30 s anyway.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * Waits between attempts.
   * @internal For tests, which must not wait for real.
   */
  readonly sleep?: (milliseconds: number) => Promise<void>;
  /**
   * A number in [0, 1) for the backoff's jitter.
   * @internal For tests.
   * @default Math.random
   */
  readonly random?: () => number;
}

/** Options of {@link ConnectorClient.getAccessToken}. */
export interface AccessTokenOptions {
  /**
   * How long, at least, the token must stay valid, in seconds (0 to 3300). A token with less left
   * is refreshed first. Ask for as long as the work that will use it may take.
   * @default 300 (the connector's default)
   */
  readonly minValidSeconds?: number;
}

/** Options of {@link ConnectorClient.listConnections}. */
export interface ListConnectionsOptions {
  /** The app's tenant whose connections to list. */
  readonly tenantId: string;
  /** The previous page's `cursor`, for the next page. */
  readonly cursor?: string;
}

/** Options of {@link ConnectorClient.createConnectLink}. */
export interface CreateConnectLinkOptions {
  /** The app's tenant (its user or organisation) the connection will belong to. */
  readonly tenantId: string;
  /** How long the link works, 60 to 3600 seconds. @default 300 */
  readonly expiresInSeconds?: number;
}

/** The connector's rule for tenant ids. */
const TENANT_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The longest `minValidSeconds` the connector accepts: an access token lives 3600 s. */
const MAX_MIN_VALID_SECONDS = 3300;
/** The longest server sentence quoted in an error message. */
const MAX_QUOTED_MESSAGE = 300;

interface ApiCall {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON; `undefined` for an empty or non-JSON body. */
  readonly body: unknown;
}

interface NoAnswer {
  readonly code: 'network_error' | 'timeout';
  readonly cause: unknown;
}

/**
 * Gets access tokens and connection facts from the connector's app API. Create one per process
 * and share it; it holds no per-call state.
 *
 * @example
 * const connector = new ConnectorClient({ baseUrl, auth: { kind: 'bearer', apiKey } });
 * const result = await connector.getAccessToken('9130357992222222', { minValidSeconds: 600 });
 * if (!result.ok) return redirect(result.reconnectRequired.reconnectUrl);
 */
export class ConnectorClient {
  readonly #baseUrl: URL;
  readonly #authorize: RequestAuthorizer;
  readonly #fetch: typeof globalThis.fetch;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;
  readonly #sleep: (milliseconds: number) => Promise<void>;
  readonly #random: () => number;

  /** @throws TypeError or RangeError when an option is unusable (checked here, once). */
  constructor(options: ConnectorClientOptions) {
    this.#baseUrl = apiBaseUrl(options.baseUrl);
    this.#authorize = requestAuthorizer(options.auth);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#maxAttempts = whole('retry.maxAttempts', options.retry?.maxAttempts ?? 3, 1);
    this.#baseDelayMs = whole('retry.baseDelayMs', options.retry?.baseDelayMs ?? 200, 0);
    this.#maxDelayMs = whole('retry.maxDelayMs', options.retry?.maxDelayMs ?? 5000, 0);
    this.#timeoutMs = whole('timeoutMs', options.timeoutMs ?? 30_000, 1);
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
  }

  /**
   * An access token for the company valid at least `minValidSeconds`, refreshed by the
   * connector first when needed; or, when the company's user must connect it again, the URL to
   * send them to.
   *
   * @param realmId - the QuickBooks company id (digits).
   * @throws {@link ConnectionNotFoundError} when the connector knows no such company (404).
   * @throws {@link TemporarilyUnavailableError} when the connector could not get a token now (503,
   *   e.g. Intuit did not answer a refresh; retried first) or the API was throttled or down.
   * @throws {@link UnauthorizedError} for a wrong key or signature (401, 403).
   * @throws {@link InvalidRequestError} for a realmId that is not digits or a `minValidSeconds`
   *   out of range, before any request is sent.
   */
  async getAccessToken(realmId: string, options: AccessTokenOptions = {}): Promise<AccessTokenResult> {
    checkRealmId(realmId);
    const { minValidSeconds } = options;
    if (minValidSeconds !== undefined) {
      if (
        !Number.isInteger(minValidSeconds) ||
        minValidSeconds < 0 ||
        minValidSeconds > MAX_MIN_VALID_SECONDS
      ) {
        throw refused(
          `minValidSeconds must be a whole number of seconds from 0 to ${MAX_MIN_VALID_SECONDS}.`,
        );
      }
    }
    const answer = await this.#exchange({
      method: 'POST',
      path: `/api/connections/${realmId}/access-token`,
      ...(minValidSeconds === undefined ? {} : { body: { minValidSeconds } }),
    });
    if (answer.status === 200) return { ok: true, token: parseAccessToken(answer.body, answer.status) };
    if (answer.status === 409 && readErrorBody(answer.body).code === 'reconnect_required') {
      return { ok: false, reconnectRequired: parseReconnectRequired(answer.body, answer.status) };
    }
    if (answer.status === 404) {
      throw new ConnectionNotFoundError(
        describe(answer, 'The connector knows no connection for this realmId.'),
        details(answer, 'connection_not_found'),
      );
    }
    throw failure(answer);
  }

  /**
   * What the connector knows about one company's connection (never its tokens).
   *
   * @returns the connection, or `undefined` when the connector knows no such company (404).
   * @throws {@link ConnectorApiError} (or a subclass) as for {@link ConnectorClient.getAccessToken}.
   */
  async getConnection(realmId: string): Promise<Connection | undefined> {
    checkRealmId(realmId);
    const answer = await this.#exchange({ method: 'GET', path: `/api/connections/${realmId}` });
    if (answer.status === 200) return parseConnection(answer.body, answer.status);
    if (answer.status === 404) return undefined;
    throw failure(answer);
  }

  /**
   * One page of a tenant's connections; pass the returned `cursor` back for the next page.
   *
   * @throws {@link ConnectorApiError} (or a subclass) as for {@link ConnectorClient.getAccessToken}.
   */
  async listConnections(options: ListConnectionsOptions): Promise<ConnectionPage> {
    if (typeof options.tenantId !== 'string' || options.tenantId === '') {
      throw refused('tenantId must be a non-empty string.');
    }
    if (options.cursor !== undefined && (typeof options.cursor !== 'string' || options.cursor === '')) {
      throw refused('cursor, when given, must be the non-empty cursor of a previous page.');
    }
    const answer = await this.#exchange({
      method: 'GET',
      path: '/api/connections',
      query: {
        tenantId: options.tenantId,
        ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
      },
    });
    if (answer.status === 200) return parseConnectionPage(answer.body, answer.status);
    throw failure(answer);
  }

  /**
   * Disconnects a company: the connector deletes its tokens, keeps the record as `disconnected`
   * and revokes the refresh token at Intuit. Later access-token calls answer reconnect-required.
   *
   * @returns `true` when disconnected, `false` when the connector knows no such company (404).
   * @throws {@link ConnectorApiError} (or a subclass) as for {@link ConnectorClient.getAccessToken}.
   */
  async disconnect(realmId: string): Promise<boolean> {
    checkRealmId(realmId);
    const answer = await this.#exchange({ method: 'DELETE', path: `/api/connections/${realmId}` });
    if (answer.status >= 200 && answer.status < 300) return true;
    if (answer.status === 404) return false;
    throw failure(answer);
  }

  /**
   * A signed, single-use link that starts a connection for one of the app's tenants: mint it for
   * the signed-in user and send their browser to `url` at once. The connection the user makes is
   * bound to `tenantId` (another tenant cannot take it over).
   *
   * @param options.tenantId - the app's tenant: 1 to 128 characters of A-Z a-z 0-9 . _ : @ -.
   * @param options.expiresInSeconds - how long the link works, 60 to 3600. @default 300
   * @throws {@link InvalidRequestError} for a tenantId or lifetime out of range, before any request.
   * @throws {@link ConnectorApiError} (or a subclass) as for {@link ConnectorClient.getAccessToken}.
   */
  async createConnectLink(options: CreateConnectLinkOptions): Promise<ConnectLink> {
    if (typeof options.tenantId !== 'string' || !TENANT_ID.test(options.tenantId)) {
      throw refused('tenantId must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -.');
    }
    const { expiresInSeconds } = options;
    if (
      expiresInSeconds !== undefined &&
      (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 60 || expiresInSeconds > 3600)
    ) {
      throw refused('expiresInSeconds must be a whole number of seconds from 60 to 3600.');
    }
    const answer = await this.#exchange({
      method: 'POST',
      path: '/api/connect-links',
      body: { tenantId: options.tenantId, ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }) },
    });
    if (answer.status === 201) return parseConnectLink(answer.body, answer.status);
    throw failure(answer);
  }

  /**
   * Whether the query string the app's success or failure URL received was signed by the
   * connector in the last 10 minutes; trust its `realmId` and `tenantId` only when `valid`.
   *
   * @param queryString - the query as received, with or without the leading `?`.
   * @throws {@link ConnectorApiError} (or a subclass) as for {@link ConnectorClient.getAccessToken}.
   */
  async verifyConnectResult(queryString: string): Promise<ConnectResult> {
    if (typeof queryString !== 'string' || queryString.length > 4096) {
      throw refused('queryString must be the query string received, at most 4096 characters.');
    }
    const answer = await this.#exchange({
      method: 'POST',
      path: '/api/connect-results/verify',
      body: { query: queryString },
    });
    if (answer.status === 200) return parseConnectResult(answer.body, answer.status);
    throw failure(answer);
  }

  /**
   * Sends the call, retrying what is worth retrying, and returns the first answer that is not;
   * throws {@link TemporarilyUnavailableError} once the retries are spent.
   */
  async #exchange(call: ApiCall): Promise<Answer> {
    const request = this.#outgoing(call);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(request);
      if ('status' in outcome && outcome.status !== 429 && outcome.status < 500) return outcome;
      const retryAfterSeconds = 'status' in outcome ? retryAfter(outcome.headers) : undefined;
      const delayMs =
        retryAfterSeconds === undefined
          ? this.#random() * Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1))
          : retryAfterSeconds * 1000;
      if (attempt >= this.#maxAttempts || delayMs > this.#maxDelayMs) {
        throw unavailable(outcome, retryAfterSeconds, attempt);
      }
      await this.#sleep(delayMs);
    }
  }

  #outgoing(call: ApiCall): OutgoingRequest {
    const query = call.query ?? {};
    const url = new URL(this.#baseUrl.href);
    url.pathname = `${this.#baseUrl.pathname.replace(/\/+$/, '')}${call.path}`;
    // Encoded as SigV4's canonical query encodes it (RFC 3986), so what is signed is what is sent.
    url.search = Object.entries(query)
      .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
      .join('&');
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return { method: call.method, url, query, headers, body };
  }

  async #attempt(request: OutgoingRequest): Promise<Answer | NoAnswer> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      const headers = await this.#authorize(request);
      const response = await this.#fetch(request.url, {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        redirect: 'manual',
        signal,
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: parseJson(text) };
    } catch (error: unknown) {
      return { code: signal.aborted ? 'timeout' : 'network_error', cause: error };
    }
  }
}

function apiBaseUrl(baseUrl: string | URL): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError('ConnectorClient: baseUrl must be an absolute URL such as http://localhost:3000.');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '') {
    throw new TypeError('ConnectorClient: baseUrl must be an http(s) URL without query or fragment.');
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError('ConnectorClient: baseUrl must not carry credentials; use the auth option.');
  }
  return url;
}

function whole(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`ConnectorClient: ${name} must be a whole number of at least ${min}.`);
  }
  return value;
}

/** The connector's realmIds are digits; anything else is refused here, without a request. */
function checkRealmId(realmId: string): void {
  // The value is not quoted: a caller who passed the wrong variable may have passed a secret.
  if (typeof realmId !== 'string' || !/^[0-9]{1,32}$/.test(realmId)) {
    throw refused('realmId must be the QuickBooks company id: digits only.');
  }
}

function refused(message: string): InvalidRequestError {
  return new InvalidRequestError(`${message} (Not sent.)`, { status: undefined, code: 'invalid_request' });
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `Retry-After` in seconds; the connector sends delta-seconds (an HTTP date is ignored). */
function retryAfter(headers: Headers): number | undefined {
  const value = headers.get('retry-after')?.trim();
  return value !== undefined && /^[0-9]{1,9}$/.test(value) ? Number(value) : undefined;
}

function details(
  answer: Answer,
  fallbackCode: string,
): { status: number; code: string; requestId: string | undefined } {
  return {
    status: answer.status,
    code: readErrorBody(answer.body).code ?? fallbackCode,
    requestId: answer.headers.get('apigw-requestid') ?? undefined,
  };
}

/** The server's sentence when it gave one (bounded), else the client's, and the status. */
function describe(answer: Answer, fallback: string, circumstances = ''): string {
  const quoted = readErrorBody(answer.body).message?.slice(0, MAX_QUOTED_MESSAGE);
  return `${quoted ?? fallback} (HTTP ${answer.status}${circumstances})`;
}

/** A final answer the calling method did not expect: the typed error for its status. */
function failure(answer: Answer): ConnectorApiError {
  switch (answer.status) {
    case 400:
      return new InvalidRequestError(
        describe(answer, 'The connector refused the request as malformed.'),
        details(answer, 'invalid_request'),
      );
    case 401:
    case 403:
      // 401: the local bearer key; 403: API Gateway refused the SigV4 signature or the role.
      return new UnauthorizedError(
        describe(answer, 'The connector did not accept these credentials.'),
        details(answer, 'unauthorized'),
      );
    default:
      return new ConnectorApiError(
        describe(answer, 'The connector gave an answer this client does not expect.'),
        details(answer, 'unexpected_response'),
      );
  }
}

function unavailable(
  outcome: Answer | NoAnswer,
  retryAfterSeconds: number | undefined,
  attempts: number,
): TemporarilyUnavailableError {
  const tried = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  const later = retryAfterSeconds === undefined ? '' : `; retry after ${retryAfterSeconds} s`;
  if (!('status' in outcome)) {
    const what = outcome.code === 'timeout' ? 'did not answer in time' : 'could not be reached';
    return new TemporarilyUnavailableError(`The connector ${what} (${tried}).`, {
      status: undefined,
      code: outcome.code,
      retryAfterSeconds: undefined,
      cause: outcome.cause,
    });
  }
  const fallbackCode = outcome.status === 429 ? 'throttled' : 'server_error';
  const message = describe(outcome, 'The connector is temporarily unavailable.', `, ${tried}${later}`);
  return new TemporarilyUnavailableError(message, { ...details(outcome, fallbackCode), retryAfterSeconds });
}
