/**
 * The registered vocabulary of log codes and metric names: each code with its level, its default
 * message and the metrics it counts. Call sites name a code and its fields; everything else comes
 * from here, so a code cannot be logged at two levels or counted two ways. The CDK alarms, the
 * dashboard and the README's table use the same names, and tests check that they agree.
 */
export const SERVICE_NAME = 'qbo-connector';
export const METRIC_NAMESPACE = 'QboConnector';
/** Dimension added to every metric, besides Powertools' own `service` dimension. */
export const ENVIRONMENT_DIMENSION = 'Environment';

export const METRICS = {
  ConnectStarted: 'ConnectStarted',
  CallbackConnected: 'CallbackConnected',
  CallbackReplayed: 'CallbackReplayed',
  CallbackCancelled: 'CallbackCancelled',
  CallbackRejected: 'CallbackRejected',
  InvalidGrant: 'InvalidGrant',
  InvalidClient: 'InvalidClient',
  TokenExchangeFailed: 'TokenExchangeFailed',
  TokenExchangeAmbiguous: 'TokenExchangeAmbiguous',
  TokenExchangeLatency: 'TokenExchangeLatency',
  TokenStoreFailed: 'TokenStoreFailed',
  RealmMismatch: 'RealmMismatch',
  CompanyCheckUnavailable: 'CompanyCheckUnavailable',
  SecretsUnavailable: 'SecretsUnavailable',
  ConfigError: 'ConfigError',
  StorageUnavailable: 'StorageUnavailable',
  UnexpectedError: 'UnexpectedError',
  TokenServed: 'TokenServed',
  TokenRefreshed: 'TokenRefreshed',
  RefreshLatency: 'RefreshLatency',
  RefreshInvalidGrant: 'RefreshInvalidGrant',
  RefreshAmbiguous: 'RefreshAmbiguous',
  RefreshStoreFailed: 'RefreshStoreFailed',
  RefreshWaitTimedOut: 'RefreshWaitTimedOut',
  ConnectionDisconnected: 'ConnectionDisconnected',
  RevokeFailed: 'RevokeFailed',
  TokenDecryptFailed: 'TokenDecryptFailed',
  KeyServiceUnavailable: 'KeyServiceUnavailable',
  KeepAliveRefreshed: 'KeepAliveRefreshed',
  ConnectionsReconnectRequired: 'ConnectionsReconnectRequired',
  ConnectionsNearHardExpiry: 'ConnectionsNearHardExpiry',
  DisconnectConfirmed: 'DisconnectConfirmed',
  LifecycleEventPublished: 'LifecycleEventPublished',
  LifecycleEventNotPublished: 'LifecycleEventNotPublished',
  WebhookDelivered: 'WebhookDelivered',
  WebhookDeliveryFailed: 'WebhookDeliveryFailed',
  WebhookDeliveryAbandoned: 'WebhookDeliveryAbandoned',
  ConnectLinkIssued: 'ConnectLinkIssued',
  ConnectLinkRefused: 'ConnectLinkRefused',
  RealmBoundToOtherTenant: 'RealmBoundToOtherTenant',
  ConnectResultRejected: 'ConnectResultRejected',
} as const;
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Metrics that are timings (milliseconds), recorded with Telemetry.timing, not by a log code. */
export const TIMING_METRICS: readonly MetricName[] = [METRICS.TokenExchangeLatency, METRICS.RefreshLatency];

/**
 * Metrics that are counts of connections in a state (gauges), published by the refresher each run
 * with Telemetry.gauge, not by a log code.
 */
export const GAUGE_METRICS: readonly MetricName[] = [
  METRICS.ConnectionsReconnectRequired,
  METRICS.ConnectionsNearHardExpiry,
];

export type LogLevel = 'info' | 'warn' | 'error';

export interface LogCodeSpec {
  readonly level: LogLevel;
  /** The log line's message unless the call site gives a more specific one. */
  readonly message: string;
  /** Counted once each, per event (none for purely informational codes). */
  readonly metrics: readonly MetricName[];
}

const M = METRICS;

export const LOG_CODES = {
  CONNECT_STARTED: {
    level: 'info',
    message: 'Flow started; browser sent to Intuit',
    metrics: [M.ConnectStarted],
  },
  CALLBACK_CONNECTED: {
    level: 'info',
    message: 'Code exchanged once, company verified, tokens stored',
    metrics: [M.CallbackConnected],
  },
  CALLBACK_REPLAYED: {
    level: 'info',
    message: 'Replayed callback answered from the ledger; Intuit not called',
    metrics: [M.CallbackReplayed],
  },
  CALLBACK_CANCELLED: { level: 'info', message: 'User cancelled at Intuit', metrics: [M.CallbackCancelled] },
  CODE_IN_FLIGHT: {
    level: 'info',
    message: 'Duplicate callback while the exchange is in flight; finishing page served',
    metrics: [],
  },
  CALLBACK_INVALID_INPUT: {
    level: 'warn',
    message: 'Callback refused before any lookup: malformed query',
    metrics: [M.CallbackRejected],
  },
  STATE_MISSING: { level: 'warn', message: 'Callback without state', metrics: [M.CallbackRejected] },
  STATE_COOKIE_MISMATCH: {
    level: 'warn',
    message: 'Callback state is not bound to this browser (no matching flow cookie)',
    metrics: [M.CallbackRejected],
  },
  STATE_NOT_FOUND: {
    level: 'warn',
    message: 'Callback state was never issued or has been cleaned up',
    metrics: [M.CallbackRejected],
  },
  STATE_EXPIRED: {
    level: 'warn',
    message: 'Callback state expired before the callback',
    metrics: [M.CallbackRejected],
  },
  STATE_ALREADY_USED: {
    level: 'warn',
    message: 'Callback state was already used by another code or a cancellation',
    metrics: [M.CallbackRejected],
  },
  EXCHANGE_LEASE_EXPIRED: {
    level: 'error',
    message: 'Exchange lease passed without an outcome; marked UNKNOWN, user asked to reconnect',
    metrics: [M.TokenExchangeFailed],
  },
  TOKEN_EXCHANGE_INVALID_GRANT: {
    level: 'error',
    message:
      'Intuit answered invalid_grant: code expired, already used, or issued for another redirect URI, client or environment',
    metrics: [M.TokenExchangeFailed, M.InvalidGrant],
  },
  TOKEN_EXCHANGE_INVALID_CLIENT: {
    level: 'error',
    message:
      'Intuit answered invalid_client: wrong client id or secret, or keys from the other environment; the secret is read afresh next time',
    metrics: [M.TokenExchangeFailed, M.InvalidClient],
  },
  TOKEN_EXCHANGE_REJECTED: {
    level: 'error',
    message: 'Intuit refused the exchange with an OAuth error',
    metrics: [M.TokenExchangeFailed],
  },
  TOKEN_EXCHANGE_AMBIGUOUS: {
    level: 'error',
    message:
      'Token request may have reached Intuit (timeout, 5xx, 429 or reset); code treated as spent, not retried',
    metrics: [M.TokenExchangeFailed, M.TokenExchangeAmbiguous],
  },
  TOKEN_EXCHANGE_UNREACHABLE: {
    level: 'error',
    message: 'Token endpoint unreachable (request never left)',
    metrics: [M.TokenExchangeFailed],
  },
  TOKEN_RESPONSE_MALFORMED: {
    level: 'error',
    message: 'Intuit answered success with a body that is not a valid token response; nothing stored',
    metrics: [M.TokenExchangeFailed],
  },
  TOKEN_STORE_FAILED: {
    level: 'error',
    message:
      'Tokens could not be stored after a successful exchange; nothing revoked (they expire unused), user asked to reconnect',
    metrics: [M.TokenStoreFailed],
  },
  TOKEN_STORE_UNCERTAIN: {
    level: 'error',
    message:
      'Tokens may or may not be stored (DynamoDB did not answer); nothing revoked, finishing page served until the ledger decides',
    metrics: [M.TokenStoreFailed],
  },
  REALM_MISMATCH: {
    level: 'error',
    message:
      'The new access token is not authorised for the realmId in the callback URL (forged or edited); nothing stored',
    metrics: [M.RealmMismatch],
  },
  COMPANY_CHECK_MISCONFIGURED: {
    level: 'error',
    message: 'CompanyInfo refused the new token (401 or wrong cluster): the API host and the keys disagree',
    metrics: [M.ConfigError],
  },
  COMPANY_CHECK_UNAVAILABLE: {
    level: 'error',
    message:
      'CompanyInfo did not answer usably (timeout, 5xx, 429 or reset); company unverified, nothing stored',
    metrics: [M.CompanyCheckUnavailable],
  },
  SECRETS_UNAVAILABLE: {
    level: 'error',
    message: 'The client credentials could not be read right now; nobody was sent to Intuit',
    metrics: [M.SecretsUnavailable],
  },
  CONFIG_INVALID: {
    level: 'error',
    message: 'Configuration is not usable; nobody is sent to Intuit until it is fixed',
    metrics: [M.ConfigError],
  },
  STORAGE_UNAVAILABLE: {
    level: 'error',
    message: 'DynamoDB failed after bounded retries',
    metrics: [M.StorageUnavailable],
  },
  UNEXPECTED_ERROR: {
    level: 'error',
    message: 'Unexpected failure; generic page served',
    metrics: [M.UnexpectedError],
  },
  TIME_BUDGET_EXHAUSTED: {
    level: 'error',
    message: 'Too little invocation time left to exchange safely; nothing claimed, Intuit not called',
    metrics: [M.UnexpectedError],
  },
  INVOCATION_TIMEOUT: {
    level: 'error',
    message: 'Invocation about to time out; last-resort page served',
    metrics: [M.UnexpectedError],
  },
  TOKEN_SERVED: {
    level: 'info',
    message: 'Access token served to the app (the token itself is never logged)',
    metrics: [M.TokenServed],
  },
  TOKEN_REFRESHED: {
    level: 'info',
    message: 'Tokens refreshed once under the lease; rotated refresh token stored',
    metrics: [M.TokenRefreshed],
  },
  REFRESH_INVALID_GRANT: {
    level: 'warn',
    message:
      'Intuit refused the refresh token (invalid_grant) after a re-read; connection needs its user to reconnect',
    metrics: [M.RefreshInvalidGrant],
  },
  REFRESH_AMBIGUOUS: {
    level: 'warn',
    message: 'Refresh answer lost or refused for now; stored tokens kept, next attempt after backoff',
    metrics: [M.RefreshAmbiguous],
  },
  REFRESH_INVALID_CLIENT: {
    level: 'error',
    message:
      "Intuit refused the client credentials on refresh (invalid_client): check this environment's secret",
    metrics: [M.InvalidClient, M.ConfigError],
  },
  REFRESH_STORE_FAILED: {
    level: 'error',
    message:
      'Refreshed tokens could not be stored after retries; the access token was served, the next refresh reuses the stored refresh token',
    metrics: [M.RefreshStoreFailed],
  },
  REFRESH_SUPERSEDED: {
    level: 'info',
    message: 'Refreshed tokens discarded: a newer write (a reconnect) landed first; its tokens stay',
    metrics: [],
  },
  REFRESH_WAIT_TIMED_OUT: {
    level: 'warn',
    message: 'Another invocation held the refresh lease for longer than the wait; 503 with Retry-After',
    metrics: [M.RefreshWaitTimedOut],
  },
  REFRESH_BACKING_OFF: {
    level: 'info',
    message:
      'A refresh is needed but the last one was ambiguous; waiting out the backoff without calling Intuit',
    metrics: [],
  },
  REFRESH_TOKEN_EXPIRED: {
    level: 'warn',
    message:
      'The refresh token passed its expiry (100 days idle or the 5-year cap); connection needs its user',
    metrics: [],
  },
  CONNECTION_DISCONNECTED: {
    level: 'info',
    message: 'Connection disconnected by the app: tokens deleted, record kept',
    metrics: [M.ConnectionDisconnected],
  },
  REVOKE_FAILED: {
    level: 'warn',
    message: 'Revoking the refresh token at Intuit failed; the local deletion stands',
    metrics: [M.RevokeFailed],
  },
  TOKEN_DECRYPT_FAILED: {
    level: 'error',
    message: 'Stored tokens do not decrypt for this company (altered, copied or wrong key)',
    metrics: [M.TokenDecryptFailed],
  },
  KEY_SERVICE_UNAVAILABLE: {
    level: 'error',
    message: 'The key service (KMS) could not encrypt or decrypt tokens now',
    metrics: [M.KeyServiceUnavailable],
  },
  LEGACY_CONNECTION_MIGRATED: {
    level: 'info',
    message: 'A connection stored before encryption was encrypted and indexed on first touch',
    metrics: [],
  },
  API_REQUEST_REFUSED: {
    level: 'info',
    message: 'App API request refused: malformed, unknown route or method',
    metrics: [],
  },
  KEEP_ALIVE_RUN: {
    level: 'info',
    message: 'Keep-alive run: due connections refreshed, states counted',
    metrics: [],
  },
  DISCONNECT_CONFIRMED: {
    level: 'warn',
    message:
      'Intuit refused the grant after the user disconnected the app inside QuickBooks; connection DISCONNECTED',
    metrics: [M.DisconnectConfirmed],
  },
  DISCONNECT_LANDING: {
    level: 'info',
    message:
      'A browser landed on the Disconnect URL; nothing trusted from it, Intuit asked at most once an hour',
    metrics: [],
  },
  RECONNECT_LANDING: {
    level: 'info',
    message: 'A browser landed on the Reconnect URL',
    metrics: [],
  },
  KEEP_ALIVE_REFRESHED: {
    level: 'info',
    message: 'Idle connection refreshed by the keep-alive before its 100-day window closed',
    metrics: [M.KeepAliveRefreshed],
  },
  CONNECTION_EVENT: {
    level: 'info',
    message: 'Lifecycle event published (the message is its type)',
    metrics: [M.LifecycleEventPublished],
  },
  CONNECTION_EVENT_NOT_PUBLISHED: {
    level: 'error',
    message:
      'A lifecycle event was not accepted; its stream record and every later one are read again (nothing lost)',
    metrics: [M.LifecycleEventNotPublished],
  },
  WEBHOOK_DELIVERED: {
    level: 'info',
    message: "Lifecycle event delivered to the app's webhook (2xx)",
    metrics: [M.WebhookDelivered],
  },
  WEBHOOK_DELIVERY_FAILED: {
    level: 'warn',
    message:
      "The app's webhook did not take a lifecycle event (non-2xx, timeout or no connection); retried with backoff",
    metrics: [M.WebhookDeliveryFailed],
  },
  WEBHOOK_DELIVERY_ABANDONED: {
    level: 'error',
    message: "A lifecycle event was never taken by the app's webhook after every retry",
    metrics: [M.WebhookDeliveryAbandoned],
  },
  CONNECT_LINK_ISSUED: {
    level: 'info',
    message: 'Signed connect link issued for a tenant',
    metrics: [M.ConnectLinkIssued],
  },
  CONNECT_LINK_REFUSED: {
    level: 'warn',
    message: 'Connect link refused (malformed, altered, expired, reused or missing); nobody sent to Intuit',
    metrics: [M.ConnectLinkRefused],
  },
  REALM_BOUND_TO_OTHER_TENANT: {
    level: 'warn',
    message: 'Company already bound to another tenant; nothing stored, its connection untouched',
    metrics: [M.RealmBoundToOtherTenant],
  },
  CONNECT_RESULT_REJECTED: {
    level: 'warn',
    message: "A redirect query the app asked about is not the connector's (altered, old or unsigned)",
    metrics: [M.ConnectResultRejected],
  },
  REDIRECT_UNSIGNED: {
    level: 'warn',
    message: 'The connect-link key could not be read; the redirect to the app carries no signature',
    metrics: [],
  },
} as const satisfies Record<string, LogCodeSpec>;

export type LogCode = keyof typeof LOG_CODES;

/** Every registered code, in registry order. */
export const LOG_CODE_NAMES = Object.keys(LOG_CODES) as readonly LogCode[];

export function logCodeSpec(code: LogCode): LogCodeSpec {
  return LOG_CODES[code];
}
