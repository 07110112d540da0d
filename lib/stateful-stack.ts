import { CfnOutput, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { PLACEHOLDER_CREDENTIAL } from '../lambdas/core/config';
import { MIN_WEBHOOK_SECRET_LENGTH } from '../lambdas/core/webhook-delivery';
import { CONNECTION_TABLE, FLOW_TABLE } from '../lambdas/core/table-schema';
import type { EnvironmentConfig } from './config/environments';
import { SchemaTable } from './constructs/schema-table';
import { acknowledgeNagFinding } from './nag';

/** Comfortably above the minimum the signing key accepts. */
const WEBHOOK_SECRET_LENGTH = Math.max(64, MIN_WEBHOOK_SECRET_LENGTH);

export interface StatefulStackProps extends StackProps {
  /** e.g. `dev`, `prod`: names resources' descriptions and the metrics' Environment dimension. */
  readonly envName: string;
  readonly config: EnvironmentConfig;
  /** @default - every index of CONNECTION_TABLE (see `ConnectorStackOptions` in lib/connector-app.ts) */
  readonly connectionIndexLimit?: number;
}

/**
 * Everything that holds data: the flow/code-ledger table, the connections (tokens) table with its
 * customer-managed key and indexes, the key that encrypts the tokens themselves, and the Intuit
 * client credentials secret. Kept apart from the functions and
 * the API so that redeploying or rolling those back never touches data.
 */
export class StatefulStack extends Stack {
  readonly flowTable: Table;
  readonly connectionTable: Table;
  /** Encrypts the connections table at rest (DynamoDB uses it on the caller's behalf). */
  readonly connectionTableKey: IKey;
  /**
   * Encrypts the OAuth tokens in the application before they reach DynamoDB (envelope encryption,
   * the realmId as encryption context), so a scan, export or backup of the table shows ciphertext.
   * Separate from the table key: reading the table grants nothing here (docs/security.md H3, H4).
   */
  readonly tokenKey: IKey;
  /** Intuit client id and secret for this environment only (docs/security.md D2, F3). */
  readonly credentialsSecret: Secret;
  /**
   * Where lifecycle events go (source `qbo-connector`). Here rather than with the functions: the
   * app's rules live on it, and redeploying or rolling back the functions must never drop them.
   */
  readonly eventBus: EventBus;
  /**
   * The connect-link key (A5, I1): generated here, read by connect, callback and the app API only,
   * which derive the link and redirect keys from it. Its own secret, so rewriting the Intuit
   * credentials never touches it.
   */
  readonly connectLinkKeySecret: Secret;
  /**
   * The webhook signing secret, only with a `webhookUrl`: random url-safe characters generated
   * here; the deliverer and the app both turn the value into the Standard Webhooks key with
   * `webhookSigningKeyOf` (lambdas/core/webhook-delivery.ts).
   */
  readonly webhookSecret?: Secret;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config, envName } = props;
    const protection = config.dataProtection;

    this.flowTable = new SchemaTable(this, 'FlowTable', {
      schema: FLOW_TABLE,
      // Holds hashes of states and codes and flow metadata, never tokens.
      encryption: { kind: 'aws-managed' },
      removalPolicy: protection.removalPolicy,
      deletionProtection: protection.deletionProtection,
      pointInTimeRecovery: protection.pointInTimeRecovery,
    }).table;

    const connectionTableKey = new Key(this, 'ConnectionTableKey', {
      description: `QBO connector (${envName}): encrypts the connections table (OAuth tokens)`,
      enableKeyRotation: true,
      removalPolicy: protection.removalPolicy,
    });
    this.connectionTableKey = connectionTableKey;

    // Who may use it is granted per function in the stateless stack: the callback only generates
    // data keys, and only the token API and the refresher decrypt (H4).
    this.tokenKey = new Key(this, 'TokenKey', {
      description: `QBO connector (${envName}): encrypts OAuth tokens in the application, separate from the table key`,
      enableKeyRotation: true,
      removalPolicy: protection.removalPolicy,
    });

    this.connectionTable = new SchemaTable(this, 'ConnectionTable', {
      schema: CONNECTION_TABLE,
      encryption: { kind: 'customer-managed', key: connectionTableKey },
      ...(props.connectionIndexLimit === undefined ? {} : { indexLimit: props.connectionIndexLimit }),
      removalPolicy: protection.removalPolicy,
      deletionProtection: protection.deletionProtection,
      pointInTimeRecovery: protection.pointInTimeRecovery,
    }).table;

    // Created holding the placeholder the handlers refuse with a "not configured yet" page (docs/security.md
    // G5), so no credential ever passes through code, context or a template (F3). CloudFormation writes
    // this value only when the secret is created or this template value changes: do not edit the
    // placeholder after an operator has put the real credentials in (docs/deploy.md).
    const placeholder = SecretValue.unsafePlainText(PLACEHOLDER_CREDENTIAL);
    const credentialsSecret = new Secret(this, 'IntuitClientCredentials', {
      description: `QBO connector (${envName}): Intuit ${config.qboEnvironment} app client id and secret`,
      secretObjectValue: {
        clientId: placeholder,
        clientSecret: placeholder,
        environment: SecretValue.unsafePlainText(config.qboEnvironment),
      },
      removalPolicy: protection.removalPolicy,
    });
    acknowledgeNagFinding(credentialsSecret, 'AwsSolutions-SMG4');
    this.credentialsSecret = credentialsSecret;

    this.eventBus = new EventBus(this, 'LifecycleEventBus', {
      description: `QBO connector (${envName}): connection lifecycle events (source qbo-connector)`,
    });
    this.eventBus.applyRemovalPolicy(protection.removalPolicy);
    new CfnOutput(this, 'EventBusName', {
      description: "Subscribe the app's rules here (README: Lifecycle events and webhooks)",
      value: this.eventBus.eventBusName,
    });
    new CfnOutput(this, 'EventBusArn', { value: this.eventBus.eventBusArn });
    // 64 random characters of [A-Za-z0-9] (about 380 bits), generated by Secrets Manager: the value
    // never appears in code, context or a template.
    const connectLinkKeySecret = new Secret(this, 'ConnectLinkKey', {
      description: `QBO connector (${envName}): key of the signed connect links and redirects`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: protection.removalPolicy,
    });
    acknowledgeNagFinding(connectLinkKeySecret, 'AwsSolutions-SMG4');
    this.connectLinkKeySecret = connectLinkKeySecret;

    if (config.webhookUrl !== undefined) {
      const webhookSecret = new Secret(this, 'WebhookSecret', {
        description: `QBO connector (${envName}): signing secret of the lifecycle-event webhooks`,
        generateSecretString: {
          passwordLength: WEBHOOK_SECRET_LENGTH,
          excludePunctuation: true,
          includeSpace: false,
        },
        removalPolicy: protection.removalPolicy,
      });
      // Rotating it means the app switching keys at the same moment: a deliberate operator step.
      acknowledgeNagFinding(webhookSecret, 'AwsSolutions-SMG4');
      this.webhookSecret = webhookSecret;
      new CfnOutput(this, 'WebhookSecretArn', {
        description: 'The app reads this secret to verify webhooks (README: Lifecycle events and webhooks)',
        value: webhookSecret.secretArn,
      });
    }

    new CfnOutput(this, 'CredentialsSecretName', {
      description: 'Put the Intuit client id and secret here (docs/deploy.md)',
      value: credentialsSecret.secretName,
    });
  }
}
