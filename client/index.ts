/**
 * The TypeScript client apps use to get QuickBooks Online access tokens from the connector. Its
 * only dependency beyond Node's fetch is the SigV4 request signer (with its SHA-256 and types).
 */
export {
  ConnectorClient,
  type AccessTokenOptions,
  type ConnectorClientOptions,
  type CreateConnectLinkOptions,
  type ListConnectionsOptions,
  type RetryOptions,
} from './connector-client';
export type { BearerAuth, ConnectorAuth, SigV4Auth } from './request-signing';
export type {
  AccessToken,
  AccessTokenResult,
  Connection,
  ConnectionPage,
  ConnectionStatus,
  ConnectLink,
  ConnectResult,
  QboEnvironment,
  ReconnectReason,
  ReconnectRequired,
} from './responses';
export {
  ConnectionNotFoundError,
  ConnectorApiError,
  InvalidRequestError,
  TemporarilyUnavailableError,
  UnauthorizedError,
  type ConnectorApiErrorDetails,
  type TemporarilyUnavailableErrorDetails,
} from './errors';
