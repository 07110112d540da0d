import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { TableSchema } from '../../lambdas/core/table-schema';

/** How a {@link SchemaTable} is encrypted at rest. */
export type SchemaTableEncryption =
  /** The account's `aws/dynamodb` key: encryption with CloudTrail-visible key use, no key to manage. */
  | { readonly kind: 'aws-managed' }
  /** A key this project owns, so access to the data needs a KMS grant too (docs/security.md D1). */
  | { readonly kind: 'customer-managed'; readonly key: IKey };

export interface SchemaTableProps {
  /** Key attributes, from `lambdas/core/table-schema.ts` (shared with the local bootstrap). */
  readonly schema: TableSchema;
  readonly encryption: SchemaTableEncryption;
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  readonly pointInTimeRecovery: boolean;
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
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
  }
}
