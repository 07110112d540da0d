/**
 * The single source of truth for the DynamoDB tables, shared by the CDK constructs (lib/) and the
 * local bootstrap (local/), so the tables a developer runs against cannot drift from the deployed
 * ones. Plain data only: no AWS SDK or CDK imports, so it is safe to bundle into a Lambda.
 */
export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

/** A global secondary index. Sparse: an item is in it only while it has both key attributes. */
export interface IndexSchema {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Non-key attributes copied into the index; none (KEYS_ONLY) when empty. */
  readonly projectedAttributes: readonly string[];
}

export interface TableSchema {
  /** Partition key attribute (string). */
  readonly partitionKey: string;
  /** Attribute holding an epoch-seconds expiry that DynamoDB TTL uses for lazy cleanup only. */
  readonly timeToLiveAttribute?: string;
  readonly indexes?: readonly IndexSchema[];
  /**
   * A DynamoDB stream of every write, with the item before and after it: lifecycle events are
   * derived from it (lambdas/core/lifecycle-events.ts). @default - no stream
   */
  readonly stream?: 'NEW_AND_OLD_IMAGES';
}

/**
 * Flows and the code ledger. Items: `STATE#<sha256(state)>` (one per /connect) and
 * `CODE#<sha256(code)>` (one per authorization code presented to /callback). TTL only cleans up:
 * every read and every condition expression checks `expiresAt` itself (docs/design.md invariant 3).
 */
export const FLOW_TABLE: TableSchema = { partitionKey: 'pk', timeToLiveAttribute: 'ttl' };

/**
 * The value of `keepAliveShard` on every ACTIVE connection that holds tokens. One partition of the
 * keep-alive indexes: its write rate is the refresh rate (about one per company per day), far
 * below a partition's limit.
 */
export const KEEP_ALIVE_SHARD = 'active';

/** The connection metadata the tenant index carries, so listing a tenant's companies needs no second read. */
export const CONNECTION_METADATA_ATTRIBUTES = [
  'status',
  'companyName',
  'qboEnvironment',
  'connectedAt',
  'grantedAt',
  'version',
  'lastRefreshedAt',
  'accessTokenExpiresAt',
  'refreshTokenExpiresAt',
  'refreshTokenHardExpiresAt',
  'reconnectReason',
] as const;

/**
 * The connections table's indexes (docs/design.md "Connections table"):
 * - RefreshDue: ACTIVE connections by when the refresher should refresh them (`refreshDueAt`), so
 *   it reads only the due ones, never the table.
 * - HardExpiry: ACTIVE connections by their 5-year cap, for the "near hard expiry" count.
 * - ByStatus: connections by status, for the "reconnect required" count.
 * - ByTenant: a tenant's connections, for `GET /api/connections?tenantId=`.
 */
export const CONNECTION_INDEXES = {
  refreshDue: {
    name: 'RefreshDue',
    partitionKey: { name: 'keepAliveShard', type: 'S' },
    sortKey: { name: 'refreshDueAt', type: 'N' },
    projectedAttributes: [],
  },
  hardExpiry: {
    name: 'HardExpiry',
    partitionKey: { name: 'keepAliveShard', type: 'S' },
    sortKey: { name: 'refreshTokenHardExpiresAt', type: 'N' },
    projectedAttributes: [],
  },
  byStatus: {
    name: 'ByStatus',
    partitionKey: { name: 'status', type: 'S' },
    sortKey: { name: 'realmId', type: 'S' },
    projectedAttributes: [],
  },
  byTenant: {
    name: 'ByTenant',
    partitionKey: { name: 'tenantId', type: 'S' },
    sortKey: { name: 'realmId', type: 'S' },
    projectedAttributes: CONNECTION_METADATA_ATTRIBUTES,
  },
} as const satisfies Record<string, IndexSchema>;

/** Connections: one item per QuickBooks company (realmId) holding its current (encrypted) tokens. */
export const CONNECTION_TABLE: TableSchema = {
  partitionKey: 'realmId',
  indexes: Object.values(CONNECTION_INDEXES),
  stream: 'NEW_AND_OLD_IMAGES',
};
