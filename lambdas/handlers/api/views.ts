/**
 * What the app API shows of a connection: its state and times, never a refresh token (H2), and
 * the access token only on the access-token route.
 */
import { QBO_API_BASE_URLS } from '../../core/company-info';
import type { QboEnvironment, ServiceConfig } from '../../core/config';
import type { Connection, ConnectionStatus, ConnectionTokens } from '../../core/connection-store';

const STATUS: Record<ConnectionStatus, string> = {
  ACTIVE: 'active',
  RECONNECT_REQUIRED: 'reconnect_required',
  DISCONNECTED: 'disconnected',
};

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

export function connectionView(connection: Connection): Record<string, unknown> {
  const expiry = connection.tokenExpiry;
  return {
    realmId: connection.realmId,
    status: STATUS[connection.status],
    ...(connection.companyName !== undefined ? { companyName: connection.companyName } : {}),
    ...(connection.tenantId !== undefined ? { tenantId: connection.tenantId } : {}),
    qboEnvironment: connection.qboEnvironment,
    connectedAt: iso(connection.connectedAt),
    ...(connection.lastRefreshedAt !== undefined ? { lastRefreshedAt: iso(connection.lastRefreshedAt) } : {}),
    ...(expiry !== undefined
      ? {
          accessTokenExpiresAt: iso(expiry.accessTokenExpiresAt),
          refreshTokenExpiresAt: iso(expiry.refreshTokenExpiresAt),
          ...(expiry.refreshTokenHardExpiresAt !== undefined
            ? { refreshTokenHardExpiresAt: iso(expiry.refreshTokenHardExpiresAt) }
            : {}),
        }
      : {}),
    ...(connection.status !== 'ACTIVE' && connection.reconnectReason !== undefined
      ? { reconnectReason: connection.reconnectReason }
      : {}),
  };
}

export function accessTokenView(
  connection: Connection,
  tokens: ConnectionTokens,
  config: ServiceConfig,
): Record<string, unknown> {
  const environment: QboEnvironment = connection.qboEnvironment === 'production' ? 'production' : 'sandbox';
  return {
    realmId: connection.realmId,
    accessToken: tokens.accessToken,
    tokenType: 'bearer',
    expiresAt: iso(tokens.accessTokenExpiresAt),
    qboEnvironment: environment,
    // The deployment's accounting host (the emulator's locally); Intuit's for the environment otherwise.
    apiBaseUrl: environment === config.qboEnvironment ? config.qboApiBaseUrl : QBO_API_BASE_URLS[environment],
  };
}
