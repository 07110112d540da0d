import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../lambdas/core/telemetry-codes';
import { companyCheckTimeoutMsOf, qboApiBaseUrlOf, type EnvironmentConfig } from './config/environments';
import { ROUTES, type HandlerName } from '../lambdas/routes';
import { ConnectorAlarms } from './constructs/connector-alarms';
import { ConnectorApi } from './constructs/connector-api';
import { ConnectorDashboard } from './constructs/connector-dashboard';
import { ConnectorMetrics } from './constructs/connector-metrics';
import { ConnectorQueries } from './constructs/connector-queries';
import { HandlerFunction } from './constructs/handler-function';
import { DEPS_LOCK_FILE, HANDLER_ENTRIES, PROJECT_ROOT } from './project-paths';

export interface StatelessStackProps extends StackProps {
  /** e.g. `dev`, `prod`: becomes APP_ENV and the Environment dimension of the alarms' metrics. */
  readonly envName: string;
  readonly config: EnvironmentConfig;
  readonly flowTable: Table;
  readonly connectionTable: Table;
  readonly connectionTableKey: IKey;
  readonly credentialsSecret: Secret;
}

/**
 * Everything that can be redeployed or rolled back freely: the three handlers, the HTTP API, and the
 * alarms and dashboard. Data lives in the stateful stack and is only referenced here.
 */
export class StatelessStack extends Stack {
  readonly api: ConnectorApi;
  readonly handlers: Readonly<Record<HandlerName, HandlerFunction>>;
  readonly alarms: ConnectorAlarms;
  /** The redirect URI registered at Intuit and handed to the functions (docs/security.md A3). */
  readonly redirectUri: string;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, envName } = props;
    const logRemovalPolicy = config.dataProtection.removalPolicy;

    this.api = new ConnectorApi(this, 'Api', {
      throttling: config.throttling,
      ...(config.customDomain === undefined ? {} : { customDomain: config.customDomain }),
      logRetention: config.logRetention,
      logRemovalPolicy,
    });
    // Derived from what is deployed, never typed by hand and never built from a request's Host header.
    this.redirectUri = `${this.api.baseUrl}${ROUTES.callback.path}`;
    const connectUrl = `${this.api.baseUrl}${ROUTES.connect.path}`;

    // The same variables for every function, so each validates one configuration shape at start-up.
    // No credential among them: the functions read the secret at run time (docs/security.md F3).
    const environment: Record<string, string> = {
      APP_ENV: envName,
      APP_NAME: config.appName,
      QBO_ENVIRONMENT: config.qboEnvironment,
      QBO_REDIRECT_URI: this.redirectUri,
      QBO_SCOPES: config.scopes.join(' '),
      QBO_CREDENTIALS_SECRET_ID: props.credentialsSecret.secretArn,
      FLOW_TABLE_NAME: props.flowTable.tableName,
      CONNECTION_TABLE_NAME: props.connectionTable.tableName,
      ...(config.appReturnUrl === undefined ? {} : { APP_RETURN_URL: config.appReturnUrl }),
      ...(config.appSuccessUrl === undefined ? {} : { APP_SUCCESS_URL: config.appSuccessUrl }),
      ...(config.appFailureUrl === undefined ? {} : { APP_FAILURE_URL: config.appFailureUrl }),
      FLOW_TTL_SECONDS: String(config.flowTtlSeconds),
      TOKEN_REQUEST_TIMEOUT_MS: String(config.tokenRequestTimeoutMs),
      COMPANY_CHECK_TIMEOUT_MS: String(companyCheckTimeoutMsOf(config)),
      QBO_API_BASE_URL: qboApiBaseUrlOf(config),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    const handler = (name: HandlerName): HandlerFunction => {
      const { id, path: route, timeoutSeconds } = ROUTES[name];
      const fn = new HandlerFunction(this, id, {
        entry: HANDLER_ENTRIES[name],
        description: `QBO connector (${envName}): GET ${route}`,
        timeout: Duration.seconds(timeoutSeconds),
        memorySize: 256,
        environment,
        logRetention: config.logRetention,
        logRemovalPolicy,
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: DEPS_LOCK_FILE,
      });
      this.api.addGetRoute(route, `${id}Integration`, fn.function, Duration.seconds(timeoutSeconds));
      return fn;
    };
    this.handlers = {
      connect: handler('connect'),
      callback: handler('callback'),
      outcome: handler('outcome'),
    };
    this.grantLeastPrivilege(props);

    const metrics = new ConnectorMetrics(envName, Duration.minutes(config.alarmThresholds.periodMinutes));
    const functions = {
      Connect: this.handlers.connect.function,
      Callback: this.handlers.callback.function,
      Outcome: this.handlers.outcome.function,
    };
    this.alarms = new ConnectorAlarms(this, 'Alarms', {
      thresholds: config.alarmThresholds,
      runbookUrl: config.runbookUrl,
      ...(config.alarmEmail === undefined ? {} : { alarmEmail: config.alarmEmail }),
      metrics,
      functions,
      api: this.api.httpApi,
      tables: { Flow: props.flowTable, Connection: props.connectionTable },
    });
    new ConnectorQueries(this, 'Queries', {
      envName,
      logGroups: Object.values(this.handlers).map((h) => h.logGroup),
    });
    const dashboard = new ConnectorDashboard(this, 'Dashboard', {
      envName,
      metrics,
      functions,
      api: this.api.httpApi,
      invalidGrantAlarm: this.alarms.invalidGrantAlarm,
    }).dashboard;

    new CfnOutput(this, 'ConnectUrl', {
      description:
        "Where the app sends a user to connect QuickBooks (Intuit portal: the app's Launch/Reconnect URL)",
      value: connectUrl,
    });
    new CfnOutput(this, 'CallbackUrl', {
      description: 'The redirect URI to register in the Intuit developer portal, byte for byte',
      value: this.redirectUri,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'Subscribe on-call here',
      value: this.alarms.topic.topicArn,
    });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboardName });
    if (this.api.domainName !== undefined) {
      new CfnOutput(this, 'CustomDomainTarget', {
        description: 'Point a CNAME (or alias) for the custom domain at this name',
        value: this.api.domainName.regionalDomainName,
      });
    }
  }

  /**
   * Each function gets exactly the actions its code performs, on exactly this environment's resources
   * (docs/security.md D2): connect starts flows and cannot see tokens; callback exchanges codes and stores
   * tokens; outcome renders pages and touches nothing.
   */
  private grantLeastPrivilege(props: StatelessStackProps): void {
    const allow = (role: IRole, actions: string[], resources: string[]) =>
      role.addToPrincipalPolicy(new PolicyStatement({ actions, resources }));
    const readSecret = ['secretsmanager:GetSecretValue'];
    const secret = [props.credentialsSecret.secretArn];
    const flowTable = [props.flowTable.tableArn];

    const connect = this.handlers.connect.role;
    allow(connect, ['dynamodb:PutItem'], flowTable);
    allow(connect, readSecret, secret);

    const callback = this.handlers.callback.role;
    // The claim and the state consumption are one TransactWriteItems, which is authorised per item
    // action (docs/security.md C1): Update of the state, Put of the code; replays read the code (GetItem),
    // outcomes update it.
    allow(callback, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], flowTable);
    // The callback only ever writes a verified connection, as one conditional update inside the
    // transaction that marks its code CONNECTED; it never reads connections.
    allow(callback, ['dynamodb:UpdateItem'], [props.connectionTable.tableArn]);
    // DynamoDB decrypts the table key with the caller's permission on the customer managed key;
    // nothing in the callback encrypts with it itself.
    allow(callback, ['kms:Decrypt', 'kms:DescribeKey'], [props.connectionTableKey.keyArn]);
    allow(callback, readSecret, secret);
  }
}
