import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IRole, type Role } from 'aws-cdk-lib/aws-iam';
import type { EventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../lambdas/core/telemetry-codes';
import {
  companyCheckTimeoutMsOf,
  qboApiBaseUrlOf,
  requireSignedConnectLinksOf,
  type EnvironmentConfig,
} from './config/environments';
import { CONNECTION_INDEXES } from '../lambdas/core/table-schema';
import {
  FUNCTIONS,
  HANDLER_NAMES,
  HTTP_HANDLER_NAMES,
  ROUTE_NAMES,
  ROUTES,
  type HandlerName,
} from '../lambdas/routes';
import { ApiCallerRole } from './constructs/api-caller-role';
import { ConnectorAlarms } from './constructs/connector-alarms';
import { ConnectorApi } from './constructs/connector-api';
import { ConnectorDashboard } from './constructs/connector-dashboard';
import { ConnectorMetrics } from './constructs/connector-metrics';
import { ConnectorQueries } from './constructs/connector-queries';
import { HandlerFunction } from './constructs/handler-function';
import { KeepAliveSchedule } from './constructs/keep-alive-schedule';
import { LifecycleEventStream } from './constructs/lifecycle-event-stream';
import { WebhookDelivery } from './constructs/webhook-delivery';
import { WEBHOOK_MAX_RECEIVES } from '../lambdas/core/webhook-delivery';
import { indexArnOf } from './constructs/schema-table';
import { RUNBOOK_ANCHORS } from './runbook';
import { DEPS_LOCK_FILE, HANDLER_ENTRIES, PROJECT_ROOT } from './project-paths';

export interface StatelessStackProps extends StackProps {
  /** e.g. `dev`, `prod`: becomes APP_ENV and the Environment dimension of the alarms' metrics. */
  readonly envName: string;
  readonly config: EnvironmentConfig;
  readonly flowTable: Table;
  readonly connectionTable: Table;
  readonly connectionTableKey: IKey;
  readonly tokenKey: IKey;
  readonly credentialsSecret: Secret;
  /** Where the lifecycle events go. */
  readonly eventBus: EventBus;
  /** The connect-link key (A5, I1); only connect, callback and the app API may read it. */
  readonly connectLinkKeySecret: Secret;
  /** The webhook signing secret; given exactly when the configuration has a `webhookUrl`. */
  readonly webhookSecret?: Secret;
}

/** The functions every environment deploys; the webhook deliverer only comes with a `webhookUrl`. */
export type AlwaysDeployedHandler = Exclude<HandlerName, 'webhooks'>;

/**
 * The functions that read the connect-link key: connect verifies links, the callback signs its
 * redirects to the app, the app API mints links and verifies redirects (docs/security.md I1).
 */
const CONNECT_LINK_KEY_READERS: readonly HandlerName[] = ['connect', 'callback', 'api'];

/** The construct id of a registry function in this stack (also its alarms' and widgets' name). */
function functionIdOf(name: HandlerName): string {
  return FUNCTIONS[name].id;
}

/** Where the app's routes live (lambdas/routes.ts, kind `api`). */
const API_PATH_PREFIX = '/api/';

/**
 * Everything that can be redeployed or rolled back freely: the functions of the registry, the HTTP
 * API with its routes, the role the app assumes to call it, the keep-alive schedule, and the alarms
 * and dashboard. Data lives in the stateful stack and is only referenced here.
 */
export class StatelessStack extends Stack {
  readonly api: ConnectorApi;
  readonly handlers: Readonly<Record<AlwaysDeployedHandler, HandlerFunction>>;
  /** The webhook deliverer and its queues, only with a `webhookUrl`. */
  readonly webhooks?: { readonly handler: HandlerFunction; readonly delivery: WebhookDelivery };
  /** Assumed by the app to sign its `/api/*` requests. */
  readonly apiCallerRole: Role;
  readonly keepAlive: Schedule;
  /** The role the schedule invokes the refresher with. */
  readonly keepAliveRole: Role;
  readonly alarms: ConnectorAlarms;
  /** The connections stream into the lifecycle-event consumer. */
  readonly lifecycleEvents: LifecycleEventStream;
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
      // The key the tokens are encrypted with in the application; whether a function may use it, and
      // how, is its role's business (docs/security.md H4).
      TOKEN_KEY_ARN: props.tokenKey.keyArn,
      ...(config.appReturnUrl === undefined ? {} : { APP_RETURN_URL: config.appReturnUrl }),
      ...(config.appSuccessUrl === undefined ? {} : { APP_SUCCESS_URL: config.appSuccessUrl }),
      ...(config.appFailureUrl === undefined ? {} : { APP_FAILURE_URL: config.appFailureUrl }),
      ...(config.appReconnectUrl === undefined ? {} : { APP_RECONNECT_URL: config.appReconnectUrl }),
      FLOW_TTL_SECONDS: String(config.flowTtlSeconds),
      TOKEN_REQUEST_TIMEOUT_MS: String(config.tokenRequestTimeoutMs),
      COMPANY_CHECK_TIMEOUT_MS: String(companyCheckTimeoutMsOf(config)),
      QBO_API_BASE_URL: qboApiBaseUrlOf(config),
      REQUIRE_SIGNED_CONNECT_LINKS: String(requireSignedConnectLinksOf(config)),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    const routesOf = (name: HandlerName) =>
      ROUTE_NAMES.map((r) => ROUTES[r]).filter((r) => r.handler === name);
    const makeFunction = (name: HandlerName): HandlerFunction => {
      const { timeoutSeconds, trigger } = FUNCTIONS[name];
      const serves =
        trigger === 'http'
          ? routesOf(name)
              .map((r) => `${r.method} ${r.path}`)
              .join(', ')
          : trigger === 'stream'
            ? 'connections stream to lifecycle events'
            : trigger === 'queue'
              ? "lifecycle events to the app's webhook"
              : `keep-alive, every ${config.keepAliveIntervalMinutes} min`;
      return new HandlerFunction(this, functionIdOf(name), {
        entry: HANDLER_ENTRIES[name],
        description: `QBO connector (${envName}): ${serves}`.slice(0, 256),
        timeout: Duration.seconds(timeoutSeconds),
        memorySize: 256,
        environment: {
          ...environment,
          ...(trigger === 'stream' ? { EVENT_BUS_NAME: props.eventBus.eventBusName } : {}),
          ...(name === 'webhooks' && config.webhookUrl !== undefined && props.webhookSecret !== undefined
            ? {
                WEBHOOK_URL: config.webhookUrl,
                WEBHOOK_SECRET_ID: props.webhookSecret.secretArn,
                WEBHOOK_MAX_RECEIVES: String(WEBHOOK_MAX_RECEIVES),
              }
            : {}),
          ...(CONNECT_LINK_KEY_READERS.includes(name)
            ? { CONNECT_LINK_KEY_SECRET_ID: props.connectLinkKeySecret.secretArn }
            : {}),
        },
        logRetention: config.logRetention,
        logRemovalPolicy,
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: DEPS_LOCK_FILE,
        // A failed keep-alive run is not retried by Lambda either: the next scheduled run repeats it.
        ...(trigger === 'schedule' ? { asyncRetryAttempts: 0 } : {}),
      });
    };
    this.handlers = Object.fromEntries(
      HANDLER_NAMES.filter((name) => name !== 'webhooks').map((name) => [name, makeFunction(name)]),
    ) as Record<AlwaysDeployedHandler, HandlerFunction>;
    if (config.webhookUrl !== undefined) {
      if (props.webhookSecret === undefined) throw new Error('a webhookUrl needs the webhook secret');
      const handler = makeFunction('webhooks');
      const delivery = new WebhookDelivery(this, 'Webhooks', {
        eventBus: props.eventBus,
        deliverer: handler.function,
        delivererRole: handler.role,
        delivererTimeout: Duration.seconds(FUNCTIONS.webhooks.timeoutSeconds),
        secret: props.webhookSecret,
        maxReceives: WEBHOOK_MAX_RECEIVES,
      });
      handler.function.addEnvironment('WEBHOOK_QUEUE_URL', delivery.queue.queueUrl);
      this.webhooks = { handler, delivery };
    }

    // One integration per function, shared by all of its routes.
    const integrations = new Map<HandlerName, ReturnType<ConnectorApi['integrationFor']>>(
      HTTP_HANDLER_NAMES.map((name) => {
        const integrationId = `${functionIdOf(name)}Integration`;
        const timeout = Duration.seconds(FUNCTIONS[name].timeoutSeconds);
        if (name === 'webhooks') throw new Error('the webhook deliverer has no route');
        return [name, this.api.integrationFor(integrationId, this.handlers[name].function, timeout)];
      }),
    );
    for (const name of ROUTE_NAMES) {
      const route = ROUTES[name];
      const integration = integrations.get(route.handler);
      if (integration === undefined)
        throw new Error(`route ${name}: ${route.handler} is not an HTTP function`);
      this.api.addRoute(route.method, route.path, integration, route.kind === 'api' ? 'iam' : 'none');
    }

    this.apiCallerRole = new ApiCallerRole(this, 'ApiCallerRole', {
      principals: config.apiCallerPrincipals,
      ...(config.apiCallerExternalId === undefined ? {} : { externalId: config.apiCallerExternalId }),
      invokeArn: this.api.arnForPath(`${API_PATH_PREFIX}*`),
      description: `QBO connector (${envName}): assumed by the app to call ${API_PATH_PREFIX}* (SigV4)`,
    }).role;

    const keepAlive = new KeepAliveSchedule(this, 'KeepAlive', {
      target: this.handlers.refresher.function,
      intervalMinutes: config.keepAliveIntervalMinutes,
      description: `QBO connector (${envName}): runs the keep-alive refresher`,
    });
    this.keepAlive = keepAlive.schedule;
    this.keepAliveRole = keepAlive.role;

    this.lifecycleEvents = new LifecycleEventStream(this, 'LifecycleEventStream', {
      table: props.connectionTable,
      tableKey: props.connectionTableKey,
      consumer: this.handlers.events.function,
      consumerRole: this.handlers.events.role,
      eventBus: props.eventBus,
    });

    this.grantLeastPrivilege(props);

    const metrics = new ConnectorMetrics(envName, Duration.minutes(config.alarmThresholds.periodMinutes));
    const deployed: [HandlerName, HandlerFunction][] = [
      ...Object.entries(this.handlers).map(
        ([name, handler]) => [name as HandlerName, handler] as [HandlerName, HandlerFunction],
      ),
      ...(this.webhooks === undefined
        ? []
        : [['webhooks', this.webhooks.handler] as [HandlerName, HandlerFunction]]),
    ];
    const functions = Object.fromEntries(
      deployed.map(([name, handler]) => [functionIdOf(name), handler.function]),
    );
    this.alarms = new ConnectorAlarms(this, 'Alarms', {
      thresholds: config.alarmThresholds,
      runbookUrl: config.runbookUrl,
      ...(config.alarmEmail === undefined ? {} : { alarmEmail: config.alarmEmail }),
      metrics,
      functions,
      refresher: this.handlers.refresher.function,
      keepAliveInterval: Duration.minutes(config.keepAliveIntervalMinutes),
      api: this.api.httpApi,
      tables: { Flow: props.flowTable, Connection: props.connectionTable },
    });
    this.alarms.watchDeadLetters(
      'LifecycleEventsFailed',
      this.lifecycleEvents.failedBatches,
      RUNBOOK_ANCHORS.lifecycleEventsFailed,
      "Lifecycle events of the connections table's stream could not be published to EventBridge before the records left the stream (24 h); the app missed them.",
    );
    if (this.webhooks !== undefined) {
      this.alarms.watchDeadLetters(
        'WebhookDeliveryAbandoned',
        this.webhooks.delivery.deadLetters,
        RUNBOOK_ANCHORS.webhookDeliveryAbandoned,
        "Lifecycle events the app's webhook did not take after more than six hours of retries are in the webhook dead-letter queue; the app missed them.",
      );
    }
    new ConnectorQueries(this, 'Queries', {
      envName,
      logGroups: deployed.map(([, h]) => h.logGroup),
    });
    const dashboard = new ConnectorDashboard(this, 'Dashboard', {
      envName,
      metrics,
      functions,
      api: this.api.httpApi,
      invalidGrantAlarm: this.alarms.invalidGrantAlarm,
      gaugePeriod: Duration.minutes(config.keepAliveIntervalMinutes),
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
    new CfnOutput(this, 'ApiBaseUrl', {
      description: `Base URL of the app API; its routes are under ${API_PATH_PREFIX} (SigV4, service execute-api)`,
      value: this.api.baseUrl,
    });
    new CfnOutput(this, 'ApiCallerRoleArn', {
      description: `The role the app assumes to sign ${API_PATH_PREFIX}* requests (docs/deploy.md)`,
      value: this.apiCallerRole.roleArn,
    });
    if (this.api.domainName !== undefined) {
      new CfnOutput(this, 'CustomDomainTarget', {
        description: 'Point a CNAME (or alias) for the custom domain at this name',
        value: this.api.domainName.regionalDomainName,
      });
    }
  }

  /**
   * Each function gets exactly the actions its code performs, on exactly this environment's resources
   * (docs/security.md D2, H4): connect starts flows and cannot see tokens; callback exchanges codes and
   * stores tokens it may encrypt but never decrypt; outcome renders pages and touches nothing; the
   * token API and the refresher are the only ones that decrypt tokens.
   */
  private grantLeastPrivilege(props: StatelessStackProps): void {
    const allow = (role: IRole, actions: string[], resources: string[]) =>
      role.addToPrincipalPolicy(new PolicyStatement({ actions, resources }));
    const readSecret = ['secretsmanager:GetSecretValue'];
    const secret = [props.credentialsSecret.secretArn];
    const flowTable = [props.flowTable.tableArn];
    const connectionTable = [props.connectionTable.tableArn];
    const indexes = (...names: (keyof typeof CONNECTION_INDEXES)[]) =>
      names.map((name) => indexArnOf(props.connectionTable, CONNECTION_INDEXES[name]));
    const tableKey = [props.connectionTableKey.keyArn];
    const tokenKey = [props.tokenKey.keyArn];
    // DynamoDB decrypts and encrypts items with the table key on the caller's behalf and with the
    // caller's permission; nothing encrypts with it directly.
    const useTableKey = ['kms:Decrypt', 'kms:DescribeKey'];

    const linkKey = [props.connectLinkKeySecret.secretArn];

    const connect = this.handlers.connect.role;
    // A flow, and with a signed link its nonce, in one TransactWriteItems of two Puts (I1).
    allow(connect, ['dynamodb:PutItem'], flowTable);
    allow(connect, readSecret, secret);
    allow(connect, readSecret, linkKey);

    const callback = this.handlers.callback.role;
    // The claim and the state consumption are one TransactWriteItems, which is authorised per item
    // action (docs/security.md C1): Update of the state, Put of the code; replays read the code (GetItem),
    // outcomes update it.
    allow(callback, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], flowTable);
    // The callback only ever writes a verified connection, as one conditional update inside the
    // transaction that marks its code CONNECTED; it never reads connections.
    allow(callback, ['dynamodb:UpdateItem'], connectionTable);
    allow(callback, useTableKey, tableKey);
    // It encrypts the tokens of the first exchange (a data key per item) and can never read them back.
    allow(callback, ['kms:GenerateDataKey'], tokenKey);
    allow(callback, readSecret, secret);
    // It signs its redirects to the app with a key derived from the connect-link key.
    allow(callback, readSecret, linkKey);

    // The token API reads a connection, refreshes it under a lease (conditional updates), lists a
    // tenant's connections from its index, and disconnects by an update that keeps the record.
    const api = this.handlers.api.role;
    allow(api, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], connectionTable);
    allow(api, ['dynamodb:Query'], indexes('byTenant'));
    allow(api, useTableKey, tableKey);
    allow(api, ['kms:Decrypt', 'kms:GenerateDataKey'], tokenKey);
    allow(api, readSecret, secret);
    // It mints connect links and verifies the redirects the app received.
    allow(api, readSecret, linkKey);

    // The refresher reads only the due and the counted connections from their indexes, then each
    // connection it refreshes, as the token API does.
    const refresher = this.handlers.refresher.role;
    allow(refresher, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], connectionTable);
    allow(refresher, ['dynamodb:Query'], indexes('refreshDue', 'hardExpiry', 'byStatus'));
    allow(refresher, useTableKey, tableKey);
    allow(refresher, ['kms:Decrypt', 'kms:GenerateDataKey'], tokenKey);
    allow(refresher, readSecret, secret);
  }
}
