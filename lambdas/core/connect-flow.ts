/**
 * GET /connect: start a flow and send the browser to Intuit's consent page (docs/security.md A1-A3).
 * A signed connect link (A5, I1) is verified before anything is stored; its tenant is kept with the
 * flow, server side (I2), and its nonce is consumed in the same write that creates the flow.
 */
import type { LinkRefusal } from './connect-links';
import { parseConnectLink, verifyConnectLink } from './connect-links';
import { ConfigError, CredentialsUnavailableError, StorageUnavailableError } from './errors';
import { credentialsUnavailable, notConfigured, storageUnavailable } from './flow-failures';
import { hashPrefix, newState, sha256Hex } from './flow-identifiers';
import type { NewFlow } from './flow-ledger';
import type { FlowResult } from './flow-results';
import type { BaseRuntime, FlowDependencies } from './runtime';

export interface ConnectRequest {
  /** The query string exactly as received: a signed link's parameters, or nothing. */
  readonly rawQuery?: string;
}

type LinkCheck =
  | { readonly ok: true; readonly link?: Pick<NewFlow, 'tenantId' | 'nonce'> & { readonly tenantId: string } }
  | { readonly ok: false; readonly reason: LinkRefusal; readonly tenantId?: string };

export async function handleConnect(
  runtime: BaseRuntime,
  deps: FlowDependencies<BaseRuntime>,
  request: ConnectRequest = {},
): Promise<FlowResult> {
  const { config, credentials, ledger } = runtime;

  let check: LinkCheck;
  try {
    check = await checkLink(runtime, deps, request.rawQuery ?? '');
  } catch (error) {
    if (error instanceof ConfigError) return notConfigured(deps.telemetry, error);
    if (error instanceof CredentialsUnavailableError) return credentialsUnavailable(deps.telemetry, error);
    throw error;
  }
  if (!check.ok) return linkRefused(deps, check.reason, check.tenantId);

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
    const created = await ledger.createFlow({
      stateHash,
      createdAt: now,
      expiresAt: now + config.flowTtlSeconds * 1000,
      ...check.link,
    });
    if (created === 'nonce-used') return linkRefused(deps, 'reused', check.link?.tenantId);
  } catch (error) {
    if (!(error instanceof StorageUnavailableError)) throw error;
    return storageUnavailable(deps.telemetry, error, 'Could not store a new flow; nobody was sent to Intuit');
  }

  // I2: the tenant is in the flow's record only; neither the cookie nor this URL carries it.
  const authorize = new URL(config.authorizationEndpoint);
  authorize.searchParams.set('client_id', clientId);
  authorize.searchParams.set('response_type', 'code');
  authorize.searchParams.set('scope', config.scopes.join(' '));
  authorize.searchParams.set('redirect_uri', config.redirectUri);
  authorize.searchParams.set('state', state);

  deps.telemetry.record({
    code: 'CONNECT_STARTED',
    fields: {
      stateHashPrefix: hashPrefix(stateHash),
      qboEnvironment: config.qboEnvironment,
      ...(check.link !== undefined ? { signedLink: true, tenantId: check.link.tenantId } : {}),
    },
  });
  return {
    kind: 'authorize',
    location: authorize.toString(),
    flowCookie: { state, issuedAt: now, maxAgeSeconds: config.flowTtlSeconds },
  };
}

/** I1: signature (constant time), then expiry; the nonce is consumed with the flow's creation. */
async function checkLink(
  runtime: BaseRuntime,
  deps: FlowDependencies<BaseRuntime>,
  rawQuery: string,
): Promise<LinkCheck> {
  const parsed = parseConnectLink(rawQuery);
  if (parsed.kind === 'none')
    return runtime.config.requireSignedConnectLinks === true
      ? { ok: false, reason: 'unsigned' }
      : { ok: true };
  if (parsed.kind === 'malformed') return { ok: false, reason: 'malformed' };
  if (runtime.connectLinkKeys === undefined) return { ok: false, reason: 'no_key' };
  const keys = await runtime.connectLinkKeys.get();
  const verdict = verifyConnectLink(keys, parsed, deps.clock());
  // The tenant of a link whose signature failed is only what the browser said: never logged as fact.
  if (!verdict.ok)
    return {
      ok: false,
      reason: verdict.reason,
      ...(verdict.reason === 'expired' ? { tenantId: parsed.fields.tenantId } : {}),
    };
  return {
    ok: true,
    link: {
      tenantId: parsed.fields.tenantId,
      nonce: { hash: sha256Hex(parsed.fields.nonce), expiresAt: parsed.fields.exp * 1000 },
    },
  };
}

function linkRefused(
  deps: FlowDependencies<BaseRuntime>,
  reason: LinkRefusal,
  tenantId: string | undefined,
): FlowResult {
  deps.telemetry.record({ code: 'CONNECT_LINK_REFUSED', fields: { reason, tenantId } });
  return { kind: 'link-refused' };
}
