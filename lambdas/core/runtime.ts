/**
 * The dependencies the flows run on. The Lambda entry points bind the AWS adapters; the local
 * server binds DynamoDB Local and the emulator; unit tests bind fakes.
 */
import type { CompanyInfoEndpoint } from './company-info';
import type { CredentialsSource, ServiceConfig } from './config';
import type { ConnectLinkKeySource } from './connect-links';
import { ConfigError } from './errors';
import type { FlowLedger } from './flow-ledger';
import type { Telemetry } from './telemetry';
import type { ConnectionStore } from './connection-store';
import type { TokenEncrypter } from './token-cipher';
import type { TokenEndpoint, TokenRevoker } from './token-endpoint';

/** What /connect needs: no HTTP client, so the connect bundle loads none. */
export interface BaseRuntime {
  readonly config: ServiceConfig;
  readonly credentials: CredentialsSource;
  readonly ledger: FlowLedger;
  /**
   * The connect-link keys (A5, I1): /connect verifies links with them and the callback signs its
   * redirects to the app. Absent: no link can be verified (a signed link is refused) and
   * redirects go unsigned.
   */
  readonly connectLinkKeys?: ConnectLinkKeySource;
}

/** What /callback needs on top: Intuit's token endpoint, the company check (B6), the token sealer (H3). */
export interface ConnectorRuntime extends BaseRuntime {
  readonly tokenEndpoint: TokenEndpoint;
  readonly companyInfo: CompanyInfoEndpoint;
  /** Seals the new tokens while the company check runs, so sealing costs the callback no extra time. */
  readonly tokenEncrypter: TokenEncrypter;
}

export interface FlowDependencies<R extends BaseRuntime = ConnectorRuntime> {
  /** Returns the runtime built from validated configuration, or throws ConfigError. */
  readonly runtime: () => R;
  readonly telemetry: Telemetry;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** How long a duplicate callback waits for an in-flight exchange before the "finishing" page. @default 3000 */
  readonly inFlightWaitMs?: number;
  /** App name for pages rendered before configuration could be read. @default DEFAULT_APP_NAME */
  readonly fallbackAppName?: string;
}

export type RuntimeResult<R> =
  { readonly ok: true; readonly runtime: R } | { readonly ok: false; readonly error: ConfigError };

export function tryRuntime<R extends BaseRuntime>(deps: FlowDependencies<R>): RuntimeResult<R> {
  try {
    return { ok: true, runtime: deps.runtime() };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, error };
    throw error;
  }
}

/** Memoises a runtime factory, including its ConfigError, for the life of a container. */
export function once<T>(factory: () => T): () => T {
  let result: { value: T } | { error: unknown } | undefined;
  return () => {
    if (result === undefined) {
      try {
        result = { value: factory() };
      } catch (error) {
        result = { error };
      }
    }
    if ('error' in result) throw result.error;
    return result.value;
  };
}

/**
 * What the app API and the refresher run on: the connections (with the cipher inside the store),
 * Intuit's token endpoint for refreshes, the revocation endpoint for disconnects. No flow ledger.
 */
export interface TokenRuntime {
  readonly config: ServiceConfig;
  readonly credentials: CredentialsSource;
  readonly connections: ConnectionStore;
  readonly tokenEndpoint: TokenEndpoint;
  readonly revoker: TokenRevoker;
  /** Mints connect links and verifies redirect queries for the app (absent: those routes answer 500). */
  readonly connectLinkKeys?: ConnectLinkKeySource;
}

export interface TokenDependencies {
  /** Returns the runtime built from validated configuration, or throws ConfigError. */
  readonly runtime: () => TokenRuntime;
  readonly telemetry: Telemetry;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** A unique lease holder name per refresh attempt. @default crypto.randomUUID */
  readonly newHolderId?: () => string;
}
