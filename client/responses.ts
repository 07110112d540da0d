/**
 * The shapes the connector's API answers with, and their checks. Every answer is validated before
 * the app sees it, so a proxy's page or a changed contract fails here, loudly, not later in the
 * app. A failed check never quotes the body: a 200 body holds an access token.
 */
import { ConnectorApiError } from './errors';

/** Which QuickBooks Online environment a connection belongs to. */
export type QboEnvironment = 'sandbox' | 'production';

/** Why a connection needs its user to connect the company again. */
export type ReconnectReason = 'refresh_token_invalid' | 'refresh_token_expired' | 'disconnected';

/** A connection's state: usable, waiting for its user to reconnect, or disconnected by the app. */
export type ConnectionStatus = 'active' | 'reconnect_required' | 'disconnected';

/** An access token for one company, valid at least as long as asked. */
export interface AccessToken {
  /** The QuickBooks company (realm) the token is for. */
  readonly realmId: string;
  /** The token itself: send it as `Authorization: Bearer <accessToken>` to the accounting API. */
  readonly accessToken: string;
  /** Always `bearer`. */
  readonly tokenType: 'bearer';
  /** When the token stops working. */
  readonly expiresAt: Date;
  /** The environment the company lives in. */
  readonly qboEnvironment: QboEnvironment;
  /** The accounting API's base URL for that environment, without a path. */
  readonly apiBaseUrl: string;
}

/** The connection cannot give tokens until its user connects the company again. */
export interface ReconnectRequired {
  /** Why the connection stopped. */
  readonly reason: ReconnectReason;
  /** An absolute URL that starts a new connect flow for this company: send the user there. */
  readonly reconnectUrl: string;
  /** The connector's sentence about it. */
  readonly message: string | undefined;
}

/**
 * What {@link ConnectorClient.getAccessToken} returns. A reconnect is an outcome the app must act
 * on (send a user to `reconnectUrl`), not a fault, so it is a value the compiler makes the app
 * handle; faults (auth, bad input, unknown company, outage) are thrown as typed errors.
 */
export type AccessTokenResult =
  | { readonly ok: true; readonly token: AccessToken }
  | { readonly ok: false; readonly reconnectRequired: ReconnectRequired };

/** What the connector knows about one connection; never a token. */
export interface Connection {
  /** The QuickBooks company (realm). */
  readonly realmId: string;
  /** The connection's state. */
  readonly status: ConnectionStatus;
  /** The company's name, once the connector has read it. */
  readonly companyName?: string;
  /** The app's tenant the connection belongs to, when it has one. */
  readonly tenantId?: string;
  /** The environment the company lives in. */
  readonly qboEnvironment: QboEnvironment;
  /** When the company was (last) connected. */
  readonly connectedAt: Date;
  /** When the tokens were last refreshed. */
  readonly lastRefreshedAt?: Date;
  /** When the stored access token expires (present while tokens are stored). */
  readonly accessTokenExpiresAt?: Date;
  /** When the refresh token's rolling 100-day window closes (present while tokens are stored). */
  readonly refreshTokenExpiresAt?: Date;
  /** The refresh token's hard cap, after which the user must reconnect whatever happens. */
  readonly refreshTokenHardExpiresAt?: Date;
}

/** One page of a tenant's connections. */
export interface ConnectionPage {
  /** The connections on this page. */
  readonly connections: readonly Connection[];
  /** Pass to the next {@link ConnectorClient.listConnections} call; absent on the last page. */
  readonly cursor?: string;
}

const QBO_ENVIRONMENTS: readonly string[] = ['sandbox', 'production'] satisfies QboEnvironment[];
const RECONNECT_REASONS: readonly string[] = [
  'refresh_token_invalid',
  'refresh_token_expired',
  'disconnected',
] satisfies ReconnectReason[];
const CONNECTION_STATUSES: readonly string[] = [
  'active',
  'reconnect_required',
  'disconnected',
] satisfies ConnectionStatus[];

/** Thrown by the checks below; the field name only, never its value. */
function malformed(what: string, status: number, field: string): ConnectorApiError {
  return new ConnectorApiError(`The connector's ${what} answer has a missing or malformed "${field}".`, {
    status,
    code: 'unexpected_response',
  });
}

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads typed fields from one JSON object, failing with the name of the first bad one. */
class FieldReader {
  constructor(
    private readonly body: JsonObject,
    private readonly what: string,
    private readonly status: number,
  ) {}

  string(field: string): string {
    const value = this.body[field];
    if (typeof value !== 'string' || value === '') throw malformed(this.what, this.status, field);
    return value;
  }

  optionalString(field: string): string | undefined {
    return this.body[field] === undefined || this.body[field] === null ? undefined : this.string(field);
  }

  oneOf<T extends string>(field: string, allowed: readonly string[]): T {
    const value = this.string(field);
    if (!allowed.includes(value)) throw malformed(this.what, this.status, field);
    return value as T;
  }

  date(field: string): Date {
    const value = new Date(this.string(field));
    if (Number.isNaN(value.getTime())) throw malformed(this.what, this.status, field);
    return value;
  }

  optionalDate(field: string): Date | undefined {
    return this.optionalString(field) === undefined ? undefined : this.date(field);
  }
}

/** Checks a 200 answer of `POST /api/connections/{realmId}/access-token`. */
export function parseAccessToken(body: unknown, status: number): AccessToken {
  if (!isObject(body)) throw malformed('access-token', status, 'body');
  const read = new FieldReader(body, 'access-token', status);
  return {
    realmId: read.string('realmId'),
    accessToken: read.string('accessToken'),
    tokenType: read.oneOf<'bearer'>('tokenType', ['bearer']),
    expiresAt: read.date('expiresAt'),
    qboEnvironment: read.oneOf<QboEnvironment>('qboEnvironment', QBO_ENVIRONMENTS),
    apiBaseUrl: read.string('apiBaseUrl'),
  };
}

/** Checks a 409 `reconnect_required` answer of the access-token route. */
export function parseReconnectRequired(body: unknown, status: number): ReconnectRequired {
  if (!isObject(body)) throw malformed('reconnect-required', status, 'body');
  const read = new FieldReader(body, 'reconnect-required', status);
  return {
    reason: read.oneOf<ReconnectReason>('reason', RECONNECT_REASONS),
    reconnectUrl: read.string('reconnectUrl'),
    message: typeof body['message'] === 'string' ? body['message'] : undefined,
  };
}

/** Checks one connection object, as `GET /api/connections/{realmId}` and the list return it. */
export function parseConnection(body: unknown, status: number): Connection {
  if (!isObject(body)) throw malformed('connection', status, 'body');
  const read = new FieldReader(body, 'connection', status);
  return {
    realmId: read.string('realmId'),
    status: read.oneOf<ConnectionStatus>('status', CONNECTION_STATUSES),
    qboEnvironment: read.oneOf<QboEnvironment>('qboEnvironment', QBO_ENVIRONMENTS),
    connectedAt: read.date('connectedAt'),
    // Absent fields stay absent (not `undefined`), as the connector sent them.
    ...present('companyName', read.optionalString('companyName')),
    ...present('tenantId', read.optionalString('tenantId')),
    ...present('lastRefreshedAt', read.optionalDate('lastRefreshedAt')),
    ...present('accessTokenExpiresAt', read.optionalDate('accessTokenExpiresAt')),
    ...present('refreshTokenExpiresAt', read.optionalDate('refreshTokenExpiresAt')),
    ...present('refreshTokenHardExpiresAt', read.optionalDate('refreshTokenHardExpiresAt')),
  };
}

function present<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** Checks a 200 answer of `GET /api/connections?tenantId=`. */
export function parseConnectionPage(body: unknown, status: number): ConnectionPage {
  if (!isObject(body) || !Array.isArray(body['connections'])) {
    throw malformed('connection-list', status, 'connections');
  }
  const connections = body['connections'].map((item: unknown) => parseConnection(item, status));
  const cursor = new FieldReader(body, 'connection-list', status).optionalString('cursor');
  return cursor === undefined ? { connections } : { connections, cursor };
}

/** The connector's error fields, when the body is its JSON error (API Gateway's are not). */
export function readErrorBody(body: unknown): { code: string | undefined; message: string | undefined } {
  if (!isObject(body)) return { code: undefined, message: undefined };
  const code = typeof body['error'] === 'string' ? body['error'] : undefined;
  // API Gateway's own answers carry `message` (or `Message`) and no `error`.
  const raw = body['message'] ?? body['Message'];
  return { code, message: typeof raw === 'string' ? raw : undefined };
}

/** A signed, single-use link to the connector's /connect for one of the app's tenants. */
export interface ConnectLink {
  /** Send the user's browser here at once; it works once, until `expiresAt`. */
  readonly url: string;
  readonly expiresAt: Date;
}

/** Checks a 201 answer of `POST /api/connect-links`. */
export function parseConnectLink(body: unknown, status: number): ConnectLink {
  if (!isObject(body)) throw malformed('connect-link', status, 'body');
  const read = new FieldReader(body, 'connect-link', status);
  return { url: read.string('url'), expiresAt: read.date('expiresAt') };
}

/**
 * What the connector says about the query the app's success or failure URL received: signed by
 * it within the last 10 minutes (`valid: true`, with what it signed), or not (`valid: false`).
 */
export type ConnectResult =
  | {
      readonly valid: true;
      readonly outcome: 'connected' | 'failed' | 'cancelled';
      readonly realmId?: string;
      readonly tenantId?: string;
      /** The failure's reference, for support. */
      readonly ref?: string;
    }
  | { readonly valid: false };

const CONNECT_OUTCOMES = ['connected', 'failed', 'cancelled'] as const;

/** Checks a 200 answer of `POST /api/connect-results/verify`. */
export function parseConnectResult(body: unknown, status: number): ConnectResult {
  if (!isObject(body) || typeof body['valid'] !== 'boolean')
    throw malformed('connect-result', status, 'valid');
  if (!body['valid']) return { valid: false };
  const read = new FieldReader(body, 'connect-result', status);
  return {
    valid: true,
    outcome: read.oneOf<(typeof CONNECT_OUTCOMES)[number]>('outcome', CONNECT_OUTCOMES),
    ...present('realmId', read.optionalString('realmId')),
    ...present('tenantId', read.optionalString('tenantId')),
    ...present('ref', read.optionalString('ref')),
  };
}
