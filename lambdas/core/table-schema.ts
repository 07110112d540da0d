/**
 * The single source of truth for the DynamoDB tables, shared by the CDK constructs (lib/) and the
 * local bootstrap (local/), so the tables a developer runs against cannot drift from the deployed
 * ones. Plain data only: no AWS SDK or CDK imports, so it is safe to bundle into a Lambda.
 */
export interface TableSchema {
  /** Partition key attribute (string). */
  readonly partitionKey: string;
  /** Attribute holding an epoch-seconds expiry that DynamoDB TTL uses for lazy cleanup only. */
  readonly timeToLiveAttribute?: string;
}

/**
 * Flows and the code ledger. Items: `STATE#<sha256(state)>` (one per /connect) and
 * `CODE#<sha256(code)>` (one per authorization code presented to /callback). TTL only cleans up:
 * every read and every condition expression checks `expiresAt` itself (docs/design.md invariant 3).
 */
export const FLOW_TABLE: TableSchema = { partitionKey: 'pk', timeToLiveAttribute: 'ttl' };

/** Connections: one item per QuickBooks company (realmId) holding its current tokens. */
export const CONNECTION_TABLE: TableSchema = { partitionKey: 'realmId' };
