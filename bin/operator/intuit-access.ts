/**
 * What the operator tools ask Intuit: whether its discovery document answers, and the probe: a
 * token request with a made-up authorization code, which spends nothing real. Intuit answers it
 * `invalid_grant` when it accepted the client credentials and `invalid_client` when it did not.
 */
import { randomBytes } from 'node:crypto';
import type { ClientCredentials, QboEnvironment } from '../../lambdas/core/config';
import { TokenEndpointError } from '../../lambdas/core/token-endpoint';
import { IntuitTokenClient } from '../../lambdas/adapters/intuit-token-client';

/** Intuit's OpenID discovery documents (its paths differ from the standard one). */
export const INTUIT_DISCOVERY_URLS: Readonly<Record<QboEnvironment, string>> = {
  sandbox: 'https://developer.intuit.com/.well-known/openid_sandbox_configuration/',
  production: 'https://developer.intuit.com/.well-known/openid_configuration/',
};

export type DiscoveryResult =
  | { readonly kind: 'answered'; readonly tokenEndpoint?: string }
  | { readonly kind: 'http-error'; readonly status: number }
  | { readonly kind: 'offline'; readonly reason: string };

export type ProbeResult =
  /** invalid_grant: the credentials were accepted, only the made-up code was refused. */
  | { readonly kind: 'credentials-accepted'; readonly intuitTid?: string }
  | { readonly kind: 'credentials-rejected'; readonly intuitTid?: string }
  | { readonly kind: 'offline'; readonly reason: string }
  | { readonly kind: 'inconclusive'; readonly what: string; readonly intuitTid?: string };

export interface IntuitAccess {
  discovery(environment: QboEnvironment): Promise<DiscoveryResult>;
  probe(tokenEndpoint: string, redirectUri: string, credentials: ClientCredentials): Promise<ProbeResult>;
}

const TIMEOUT_MS = 8000;

/** Over the network; `discoveryUrls` points the discovery request elsewhere (tests). */
export function httpIntuitAccess(
  options: { readonly discoveryUrls?: Readonly<Record<QboEnvironment, string>> } = {},
): IntuitAccess {
  const urls = options.discoveryUrls ?? INTUIT_DISCOVERY_URLS;
  return {
    async discovery(environment) {
      let response: Response;
      try {
        response = await fetch(urls[environment], {
          signal: AbortSignal.timeout(TIMEOUT_MS),
          redirect: 'follow',
        });
      } catch (error) {
        return { kind: 'offline', reason: networkReason(error) };
      }
      if (!response.ok) return { kind: 'http-error', status: response.status };
      const document = (await response.json().catch(() => undefined)) as
        { token_endpoint?: unknown } | undefined;
      const tokenEndpoint =
        typeof document?.token_endpoint === 'string' ? document.token_endpoint : undefined;
      return { kind: 'answered', ...(tokenEndpoint !== undefined ? { tokenEndpoint } : {}) };
    },

    async probe(tokenEndpoint, redirectUri, credentials) {
      const client = new IntuitTokenClient({ tokenEndpoint, redirectUri });
      // Shaped like a code so nothing short-circuits before the credentials are checked; never issued.
      const madeUpCode = `AB11${randomBytes(24).toString('hex')}`;
      try {
        await client.exchangeCode(madeUpCode, credentials, TIMEOUT_MS);
        return { kind: 'inconclusive', what: 'Intuit accepted a made-up code' };
      } catch (error) {
        if (!(error instanceof TokenEndpointError)) throw error;
        const tid = error.details.intuitTid !== undefined ? { intuitTid: error.details.intuitTid } : {};
        if (error.kind === 'invalid_grant') return { kind: 'credentials-accepted', ...tid };
        if (error.kind === 'invalid_client') return { kind: 'credentials-rejected', ...tid };
        if (error.kind === 'unreachable') {
          return { kind: 'offline', reason: error.details.transportCode ?? 'unreachable' };
        }
        const status = error.details.status !== undefined ? ` (HTTP ${error.details.status})` : '';
        return { kind: 'inconclusive', what: `${error.details.oauthError ?? error.kind}${status}`, ...tid };
      }
    },
  };
}

function networkReason(error: unknown): string {
  // Duck-typed: fetch's errors may come from another realm (a test runner's), failing instanceof.
  const { name, cause } = (error ?? {}) as { name?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof name === 'string' ? name : 'network error';
}
