/**
 * The registered vocabulary of log codes and metric names. Every failure emits one log line with a
 * code from LOG_CODES and one metric from METRICS; the CDK alarms and the README runbook use the
 * same names, so a test can check that they agree.
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
} as const;
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

export const LOG_CODES = {
  CONNECT_STARTED: 'CONNECT_STARTED',
  CALLBACK_CONNECTED: 'CALLBACK_CONNECTED',
  CALLBACK_REPLAYED: 'CALLBACK_REPLAYED',
  CALLBACK_CANCELLED: 'CALLBACK_CANCELLED',
  CALLBACK_INVALID_INPUT: 'CALLBACK_INVALID_INPUT',
  STATE_MISSING: 'STATE_MISSING',
  STATE_COOKIE_MISMATCH: 'STATE_COOKIE_MISMATCH',
  STATE_NOT_FOUND: 'STATE_NOT_FOUND',
  STATE_EXPIRED: 'STATE_EXPIRED',
  STATE_ALREADY_USED: 'STATE_ALREADY_USED',
  CODE_IN_FLIGHT: 'CODE_IN_FLIGHT',
  EXCHANGE_LEASE_EXPIRED: 'EXCHANGE_LEASE_EXPIRED',
  TOKEN_EXCHANGE_INVALID_GRANT: 'TOKEN_EXCHANGE_INVALID_GRANT',
  TOKEN_EXCHANGE_INVALID_CLIENT: 'TOKEN_EXCHANGE_INVALID_CLIENT',
  TOKEN_EXCHANGE_REJECTED: 'TOKEN_EXCHANGE_REJECTED',
  TOKEN_EXCHANGE_AMBIGUOUS: 'TOKEN_EXCHANGE_AMBIGUOUS',
  TOKEN_EXCHANGE_UNREACHABLE: 'TOKEN_EXCHANGE_UNREACHABLE',
  TOKEN_RESPONSE_MALFORMED: 'TOKEN_RESPONSE_MALFORMED',
  TOKEN_STORE_FAILED: 'TOKEN_STORE_FAILED',
  TOKEN_STORE_UNCERTAIN: 'TOKEN_STORE_UNCERTAIN',
  REALM_MISMATCH: 'REALM_MISMATCH',
  COMPANY_CHECK_MISCONFIGURED: 'COMPANY_CHECK_MISCONFIGURED',
  COMPANY_CHECK_UNAVAILABLE: 'COMPANY_CHECK_UNAVAILABLE',
  SECRETS_UNAVAILABLE: 'SECRETS_UNAVAILABLE',
  CONFIG_INVALID: 'CONFIG_INVALID',
  STORAGE_UNAVAILABLE: 'STORAGE_UNAVAILABLE',
  UNEXPECTED_ERROR: 'UNEXPECTED_ERROR',
  TIME_BUDGET_EXHAUSTED: 'TIME_BUDGET_EXHAUSTED',
  INVOCATION_TIMEOUT: 'INVOCATION_TIMEOUT',
} as const;
export type LogCode = (typeof LOG_CODES)[keyof typeof LOG_CODES];
