/**
 * The token runtime (the app API and the refresher): the connections store with the token cipher
 * inside it, Intuit's token endpoint for refreshes and its revocation endpoint for disconnects.
 * The same composition for the Lambda entries and the local server.
 */
import { DynamoDbConnectionStore } from '../adapters/dynamodb-connection-store';
import { createIntuitHttp } from '../adapters/intuit-http';
import { IntuitTokenClient } from '../adapters/intuit-token-client';
import type { ConnectionStore } from '../core/connection-store';
import type { TokenRuntime } from '../core/runtime';
import type { TokenCipher } from '../core/token-cipher';
import type { RuntimeParts } from './composition';

export interface TokenRuntimeParts extends Omit<RuntimeParts, 'wrapLedger' | 'tokenEncrypter'> {
  /** Opens and seals tokens (H3): only these two functions may decrypt. */
  readonly tokenCipher: TokenCipher;
  /** Wraps the store, e.g. to count or break calls in tests and benchmarks. */
  readonly wrapStore?: (store: DynamoDbConnectionStore) => ConnectionStore;
}

export function tokenRuntime(parts: TokenRuntimeParts): TokenRuntime {
  const { config } = parts;
  const client = new IntuitTokenClient({
    tokenEndpoint: config.tokenEndpoint,
    redirectUri: config.redirectUri,
    revocationEndpoint: config.revocationEndpoint,
    http: createIntuitHttp(),
  });
  const store = new DynamoDbConnectionStore({
    client: parts.documentClient,
    tableName: config.connectionTableName,
    cipher: parts.tokenCipher,
  });
  return {
    config,
    credentials: parts.credentials,
    connections: parts.wrapStore !== undefined ? parts.wrapStore(store) : store,
    tokenEndpoint: client,
    revoker: client,
    ...(parts.connectLinkKeys !== undefined ? { connectLinkKeys: parts.connectLinkKeys } : {}),
  };
}
