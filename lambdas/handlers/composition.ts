/**
 * The composition root: how the runtime is built from configuration, credentials and a DynamoDB
 * client, for the Lambda entries (AWS clients) and the local server (DynamoDB Local, the emulator)
 * alike, so the two can never wire the flows differently.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CredentialsSource, ServiceConfig } from '../core/config';
import type { ConnectLinkKeySource } from '../core/connect-links';
import type { FlowLedger } from '../core/flow-ledger';
import type { BaseRuntime } from '../core/runtime';
import type { TokenEncrypter } from '../core/token-cipher';
import { DynamoDbFlowLedger } from '../adapters/dynamodb-flow-ledger';

export interface RuntimeParts {
  readonly config: ServiceConfig;
  readonly credentials: CredentialsSource;
  readonly documentClient: DynamoDBDocumentClient;
  /** Wraps the ledger, e.g. to count or break calls in tests and benchmarks. */
  readonly wrapLedger?: (ledger: DynamoDbFlowLedger) => FlowLedger;
  /** Seals the tokens the callback stores (H3); the connect function has none. */
  readonly tokenEncrypter?: TokenEncrypter;
  /** The connect-link keys (A5, I1); absent where the function may not read them. */
  readonly connectLinkKeys?: ConnectLinkKeySource;
}

/** What /connect runs on: no HTTP client, so the connect bundle loads none. */
export function baseRuntime(parts: RuntimeParts): BaseRuntime {
  const ledger = new DynamoDbFlowLedger({
    client: parts.documentClient,
    flowTableName: parts.config.flowTableName,
    connectionTableName: parts.config.connectionTableName,
    ...(parts.tokenEncrypter !== undefined ? { tokenEncrypter: parts.tokenEncrypter } : {}),
  });
  return {
    config: parts.config,
    credentials: parts.credentials,
    ledger: parts.wrapLedger !== undefined ? parts.wrapLedger(ledger) : ledger,
    ...(parts.connectLinkKeys !== undefined ? { connectLinkKeys: parts.connectLinkKeys } : {}),
  };
}
