/**
 * GET /connect: start a flow and send the browser to Intuit's consent page (docs/security.md A1-A3).
 */
import { ConfigError, CredentialsUnavailableError, StorageUnavailableError } from './errors';
import { credentialsUnavailable, notConfigured, storageUnavailable } from './flow-failures';
import { hashPrefix, newState, sha256Hex } from './flow-identifiers';
import type { FlowResult } from './flow-results';
import type { BaseRuntime, FlowDependencies } from './runtime';

export async function handleConnect(
  runtime: BaseRuntime,
  deps: FlowDependencies<BaseRuntime>,
): Promise<FlowResult> {
  const { config, credentials, ledger } = runtime;

  let clientId: string;
  try {
    clientId = (await credentials.get()).clientId;
  } catch (error) {
    if (error instanceof ConfigError) return notConfigured(deps.telemetry, error);
    if (error instanceof CredentialsUnavailableError) return credentialsUnavailable(deps.telemetry, error);
    throw error;
  }

  const state = newState();
  const stateHash = sha256Hex(state);
  const now = deps.clock();
  try {
    await ledger.createFlow({ stateHash, createdAt: now, expiresAt: now + config.flowTtlSeconds * 1000 });
  } catch (error) {
    if (!(error instanceof StorageUnavailableError)) throw error;
    return storageUnavailable(deps.telemetry, error, 'Could not store a new flow; nobody was sent to Intuit');
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
  return {
    kind: 'authorize',
    location: authorize.toString(),
    flowCookie: { state, issuedAt: now, maxAgeSeconds: config.flowTtlSeconds },
  };
}
