import type { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { IndexSchema, KeyAttribute, TableSchema } from '../../lambdas/core/table-schema';

const ATTRIBUTE_TYPES: Readonly<Record<KeyAttribute['type'], AttributeType>> = {
  S: AttributeType.STRING,
  N: AttributeType.NUMBER,
};

function keyOf(attribute: KeyAttribute): { name: string; type: AttributeType } {
  return { name: attribute.name, type: ATTRIBUTE_TYPES[attribute.type] };
}

/** The ARN a policy names to allow a Query on one index (DynamoDB authorises index reads per index). */
export function indexArnOf(table: { readonly tableArn: string }, index: IndexSchema): string {
  return `${table.tableArn}/index/${index.name}`;
}

/** How a {@link SchemaTable} is encrypted at rest. */
export type SchemaTableEncryption =
  /** The account's `aws/dynamodb` key: encryption with CloudTrail-visible key use, no key to manage. */
  | { readonly kind: 'aws-managed' }
  /** A key this project owns, so access to the data needs a KMS grant too (docs/security.md D1). */
  | { readonly kind: 'customer-managed'; readonly key: IKey };

export interface SchemaTableProps {
  /** Key attributes and indexes, from `lambdas/core/table-schema.ts` (shared with the local bootstrap). */
  readonly schema: TableSchema;
  readonly encryption: SchemaTableEncryption;
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  readonly pointInTimeRecovery: boolean;
  /**
   * Build only the schema's first this many indexes (an existing table gains one per deploy).
   * @default - all of them
   */
  readonly indexLimit?: number;
}

/**
 * An on-demand DynamoDB table built from a {@link TableSchema}, so the deployed table and the one a
 * developer runs locally are defined by the same object. No physical name: two environments fit in
 * one account.
 */
export class SchemaTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: SchemaTableProps) {
    super(scope, id);
    const encryption =
      props.encryption.kind === 'customer-managed'
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryption.key }
        : { encryption: TableEncryption.AWS_MANAGED };
    this.table = new Table(this, 'Table', {
      partitionKey: { name: props.schema.partitionKey, type: AttributeType.STRING },
      // TTL only cleans up; every read and condition checks expiry itself (docs/design.md invariant 3).
      ...(props.schema.timeToLiveAttribute === undefined
        ? {}
        : { timeToLiveAttribute: props.schema.timeToLiveAttribute }),
      billingMode: BillingMode.PAY_PER_REQUEST,
      ...encryption,
      ...(props.schema.stream === undefined ? {} : { stream: StreamViewType.NEW_AND_OLD_IMAGES }),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    for (const index of (props.schema.indexes ?? []).slice(0, props.indexLimit)) this.addIndex(index);
  }

  private addIndex(index: IndexSchema): void {
    // Only what the index's readers need: keys alone (the reader then reads the item it picks), or
    // the listed attributes so one Query answers without a second read.
    const projection =
      index.projectedAttributes.length === 0
        ? { projectionType: ProjectionType.KEYS_ONLY }
        : { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.projectedAttributes] };
    this.table.addGlobalSecondaryIndex({
      indexName: index.name,
      partitionKey: keyOf(index.partitionKey),
      ...(index.sortKey === undefined ? {} : { sortKey: keyOf(index.sortKey) }),
      ...projection,
    });
  }
}
