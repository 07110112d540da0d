/**
 * GET /connect: start a flow and send the browser to Intuit's consent page (SECURITY.md A1-A3).
 */
import { flowCookie } from './flow-cookie';
import { hashPrefix, newState, sha256Hex } from './flow-identifiers';
import { ConfigError, CredentialsUnavailableError, StorageUnavailableError } from './errors';
import type { HttpResponse } from './http-responses';
import { pageResponse, redirectResponse } from './http-responses';
import { credentialsUnavailable, notConfigured, storageUnavailable } from './failure-pages';
import type { BaseRuntime, FlowDependencies } from './runtime';
import { isHttps, pageContext, tryRuntime } from './runtime';
import { METRICS } from './telemetry-codes';

export interface ConnectRequest {
  readonly method: string;
}

export async function handleConnect(
  request: ConnectRequest,
  deps: FlowDependencies<BaseRuntime>,
): Promise<HttpResponse> {
  if (request.method !== 'GET') return pageResponse(405, 'method-not-allowed', pageContext(deps), true);
  const resolved = tryRuntime(deps);
  if (!resolved.ok) return notConfigured(deps, resolved.error);
  const { config, credentials, ledger } = resolved.runtime;
  const https = isHttps(config);

  let clientId: string;
  try {
    clientId = (await credentials.get()).clientId;
  } catch (error) {
    if (error instanceof ConfigError) return notConfigured(deps, error, config);
    if (error instanceof CredentialsUnavailableError) return credentialsUnavailable(deps, error, config);
    throw error;
  }

  const state = newState();
  const stateHash = sha256Hex(state);
  const now = deps.clock();
  try {
    await ledger.createFlow({ stateHash, createdAt: now, expiresAt: now + config.flowTtlSeconds * 1000 });
  } catch (error) {
    if (!(error instanceof StorageUnavailableError)) throw error;
    return storageUnavailable(deps, error, 'Could not store a new flow; nobody was sent to Intuit', config);
  }

  const authorize = new URL(config.authorizationEndpoint);
  authorize.searchParams.set('client_id', clientId);
  authorize.searchParams.set('response_type', 'code');
  authorize.searchParams.set('scope', config.scopes.join(' '));
  authorize.searchParams.set('redirect_uri', config.redirectUri);
  authorize.searchParams.set('state', state);

  deps.telemetry.record({
    code: 'CONNECT_STARTED',
    fields: { stateHashPrefix: hashPrefix(stateHash), qboEnvironment: config.qboEnvironment },
  });
  return redirectResponse(302, authorize.toString(), https, [flowCookie(state, now, config.flowTtlSeconds)]);
}
