import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Stats,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Operation, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRICS } from '../../lambdas/core/telemetry-codes';
import type { AlarmThresholds } from '../config/environments';
import { acknowledgeNagFinding } from '../nag';
import { RUNBOOK_ANCHORS, type RunbookAnchor } from '../runbook';
import type { ConnectorMetrics } from './connector-metrics';

/** DynamoDB operations the handlers use; SystemErrors is only published per operation. */
const TABLE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.TRANSACT_WRITE_ITEMS,
  Operation.QUERY,
];

/**
 * Periods in a row an ambiguous-refresh count must stay at its threshold: an outage at Intuit's
 * token endpoint, not a few slow answers (which the per-company backoff absorbs).
 */
const SUSTAINED_PERIODS = 3;

/** Keep-alive runs in a row that must be missing before anyone is told (one may just be late). */
const MISSED_RUNS = 2;
/** The longest time CloudWatch evaluates an alarm over (periods times their length). */
const MAX_EVALUATION_RANGE = Duration.days(1);

interface AlarmShape {
  readonly comparisonOperator: ComparisonOperator;
  readonly evaluationPeriods: number;
  readonly treatMissingData: TreatMissingData;
}

/**
 * Counts the handlers write only when something happens: missing data is "nothing happened", and
 * at least `threshold` in one period fires.
 */
const COUNT: AlarmShape = {
  comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  evaluationPeriods: 1,
  treatMissingData: TreatMissingData.NOT_BREACHING,
};

export interface ConnectorAlarmsProps {
  readonly thresholds: AlarmThresholds;
  /** Runbook location; each alarm's description appends `#<anchor>`. */
  readonly runbookUrl: string;
  /** @default - no subscription */
  readonly alarmEmail?: string;
  readonly metrics: ConnectorMetrics;
  /** Functions by display name (`Connect`, `Callback`, ...), for Errors and Throttles alarms. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The keep-alive refresher (one of `functions`): its Errors alarm has its own runbook entry. */
  readonly refresher: IFunction;
  /**
   * How often the schedule runs the refresher, which publishes the connection gauges each run:
   * their alarms look at one run per period, and a missing run is noticed.
   */
  readonly keepAliveInterval: Duration;
  readonly api: HttpApi;
  /** Tables by display name (`Flow`, `Connection`), for throttling and system-error alarms. */
  readonly tables: Readonly<Record<string, Table>>;
}

/**
 * The on-call surface: an encrypted SNS topic (optionally with an email subscription) and one alarm
 * per failure that needs a human, each pointing at its runbook entry. For counts, missing data is
 * "not breaching": they are only written when something happens. The refresher's gauges are
 * written once per run, and their alarms keep their state between runs.
 */
export class ConnectorAlarms extends Construct {
  readonly topic: Topic;
  /** Every alarm created, in creation order. */
  readonly alarms: Alarm[] = [];
  /** The alarm on Intuit's `invalid_grant`, for the dashboard. */
  readonly invalidGrantAlarm: Alarm;

  private readonly props: ConnectorAlarmsProps;
  private readonly period: Duration;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: ConnectorAlarmsProps) {
    super(scope, id);
    this.props = props;
    this.period = Duration.minutes(props.thresholds.periodMinutes);

    const topicKey = new Key(this, 'TopicKey', {
      description: 'QBO connector: encrypts the alarm topic',
      enableKeyRotation: true,
      // Holds no data at rest beyond in-flight notifications; goes with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key; it needs these two
    // actions on a customer managed key.
    topicKey.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    this.topic = new Topic(this, 'Topic', {
      displayName: 'QBO connector alarms',
      masterKey: topicKey,
      enforceSSL: true,
    });
    // The topic policy CDK writes for enforceSSL replaces the default one, so CloudWatch alarms of this
    // account need an explicit allow.
    const { account, region, partition } = Stack.of(this);
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
          StringEquals: { 'aws:SourceAccount': account },
        },
      }),
    );
    if (props.alarmEmail !== undefined) {
      const subscription = this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      acknowledgeNagFinding(subscription, 'Serverless-SNSRedrivePolicy');
    }
    this.action = new SnsAction(this.topic);

    const t = props.thresholds;
    const m = props.metrics;
    this.invalidGrantAlarm = this.add(
      'InvalidGrant',
      m.metric(METRICS.InvalidGrant),
      t.invalidGrant,
      RUNBOOK_ANCHORS.invalidGrant,
      'Intuit answered invalid_grant: an authorization code or refresh token was rejected (revoked, reused or expired); a company may need to reconnect.',
    );
    this.add(
      'InvalidClient',
      m.metric(METRICS.InvalidClient),
      t.invalidClient,
      RUNBOOK_ANCHORS.invalidClient,
      'Intuit answered invalid_client: the client id or secret in Secrets Manager is wrong or was rotated in the Intuit portal. No connection can succeed.',
    );
    this.add(
      'ConfigError',
      m.metric(METRICS.ConfigError),
      t.configError,
      RUNBOOK_ANCHORS.configError,
      'A handler refused to start a flow because its configuration or the credentials secret is missing, unreadable or still the placeholder, or CompanyInfo refused a new token as for the wrong environment (COMPANY_CHECK_MISCONFIGURED).',
    );
    this.add(
      'TokenExchangeFailed',
      m.metric(METRICS.TokenExchangeFailed),
      t.tokenExchangeFailed,
      RUNBOOK_ANCHORS.tokenExchangeFailed,
      "Intuit's token endpoint rejected code exchanges, was unreachable or answered malformed responses; users were asked to reconnect.",
    );
    this.add(
      'TokenExchangeAmbiguous',
      m.metric(METRICS.TokenExchangeAmbiguous),
      t.tokenExchangeAmbiguous,
      RUNBOOK_ANCHORS.tokenExchangeAmbiguous,
      'A code exchange may have reached Intuit without an answer (timeout, 5xx, 429, reset); the code was not retried and the user was asked to reconnect.',
    );
    this.add(
      'TokenStoreFailed',
      m.metric(METRICS.TokenStoreFailed),
      t.tokenStoreFailed,
      RUNBOOK_ANCHORS.tokenStoreFailed,
      'Intuit issued tokens but they could not be written to the connections table (or the write outcome is unknown); nothing was revoked and the user was asked to reconnect or shown the finishing page.',
    );
    this.add(
      'RealmMismatch',
      m.metric(METRICS.RealmMismatch),
      t.realmMismatch,
      RUNBOOK_ANCHORS.realmMismatch,
      "A callback's new access token did not open the company its URL named (a forged or edited realmId); nothing was stored and the existing connection is untouched.",
    );
    this.add(
      'CompanyCheckUnavailable',
      m.metric(METRICS.CompanyCheckUnavailable),
      t.companyCheckUnavailable,
      RUNBOOK_ANCHORS.companyCheckUnavailable,
      "QuickBooks' CompanyInfo endpoint did not answer usably (timeout, 5xx, 429, reset), so new connections could not be verified and were not stored; users were asked to try again.",
    );
    this.add(
      'SecretsUnavailable',
      m.metric(METRICS.SecretsUnavailable),
      t.secretsUnavailable,
      RUNBOOK_ANCHORS.secretsUnavailable,
      'Secrets Manager was throttled or unreachable, so the Intuit credentials could not be read; users saw a "try again" page and nobody was sent to Intuit.',
    );
    this.add(
      'StorageUnavailable',
      m.metric(METRICS.StorageUnavailable),
      t.storageUnavailable,
      RUNBOOK_ANCHORS.storageUnavailable,
      'DynamoDB refused or failed requests after bounded retries; users saw a "try again" page.',
    );

    // The token lifecycle (refresh, encryption, keep-alive).
    this.add(
      'RefreshInvalidGrant',
      m.metric(METRICS.RefreshInvalidGrant),
      t.refreshInvalidGrantBurst,
      RUNBOOK_ANCHORS.refreshInvalidGrant,
      `Intuit refused the refresh tokens of at least ${t.refreshInvalidGrantBurst} connections in ${t.periodMinutes} minutes (invalid_grant); each now needs its user to reconnect. One company disconnecting the app does not fire this; a burst across companies does.`,
    );
    this.add(
      'RefreshStoreFailed',
      m.metric(METRICS.RefreshStoreFailed),
      t.refreshStoreFailed,
      RUNBOOK_ANCHORS.refreshStoreFailed,
      'Tokens refreshed at Intuit could not be stored after retries; the rotated refresh token may be lost and the company may need to reconnect.',
    );
    this.add(
      'RefreshAmbiguous',
      m.metric(METRICS.RefreshAmbiguous),
      t.refreshAmbiguous,
      RUNBOOK_ANCHORS.refreshAmbiguous,
      `At least ${t.refreshAmbiguous} refreshes per ${t.periodMinutes} minutes for ${SUSTAINED_PERIODS} periods in a row got no usable answer from Intuit (timeout, 5xx, 429, reset); the app got 503 with Retry-After and the stored tokens were kept.`,
      { ...COUNT, evaluationPeriods: SUSTAINED_PERIODS },
    );
    this.add(
      'KeyServiceUnavailable',
      m.metric(METRICS.KeyServiceUnavailable),
      t.keyServiceUnavailable,
      RUNBOOK_ANCHORS.keyServiceUnavailable,
      'KMS could not encrypt or decrypt tokens (throttled, unavailable or access denied); tokens could not be stored or served.',
    );
    this.add(
      'TokenDecryptFailed',
      m.metric(METRICS.TokenDecryptFailed),
      t.tokenDecryptFailed,
      RUNBOOK_ANCHORS.tokenDecryptFailed,
      "Stored tokens did not decrypt for their company (altered, copied from another company's item, or encrypted under another key); that company's tokens cannot be served.",
    );
    // Gauges: the refresher publishes each count once per run, so each alarm looks at one run per
    // period, and between runs keeps its state rather than flapping to OK.
    const gauge: AlarmShape = {
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.IGNORE,
    };
    const latestRun = { statistic: Stats.MAXIMUM, period: props.keepAliveInterval };
    this.add(
      'ConnectionsReconnectRequired',
      m.metric(METRICS.ConnectionsReconnectRequired, latestRun),
      t.connectionsReconnectRequired,
      RUNBOOK_ANCHORS.connectionsReconnectRequired,
      `More than ${t.connectionsReconnectRequired} connections wait for their user to reconnect (refresh token refused or expired); the app gets 409 reconnect_required for them.`,
      gauge,
    );
    this.add(
      'ConnectionsNearHardExpiry',
      m.metric(METRICS.ConnectionsNearHardExpiry, latestRun),
      0,
      RUNBOOK_ANCHORS.connectionsNearHardExpiry,
      "At least one connection's refresh token reaches Intuit's 5-year hard cap within 30 days; no refresh can extend it, only a reconnect.",
      gauge,
    );
    // The gauge alarms keep their state while no run publishes, so a schedule that stopped (disabled,
    // deleted, its role broken) needs its own alarm: no invocation in the runs that were due.
    const missedRuns = Math.max(
      1,
      Math.min(
        MISSED_RUNS,
        Math.floor(MAX_EVALUATION_RANGE.toSeconds() / props.keepAliveInterval.toSeconds()),
      ),
    );
    this.add(
      'KeepAliveNotRunning',
      props.refresher.metricInvocations({ period: props.keepAliveInterval, statistic: Stats.SUM }),
      1,
      RUNBOOK_ANCHORS.keepAliveNotRunning,
      `The keep-alive refresher was not invoked in ${missedRuns} scheduled run(s) in a row: idle connections are not being kept alive and the connection gauges are stale.`,
      {
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: missedRuns,
        // Lambda publishes no Invocations at all for a period without one.
        treatMissingData: TreatMissingData.BREACHING,
      },
    );

    // The handlers turn an unexpected exception into a generic page, so Lambda's own Errors
    // metric stays at zero for them; this counts them instead.
    this.add(
      'UnexpectedError',
      m.metric(METRICS.UnexpectedError),
      t.lambdaErrors,
      RUNBOOK_ANCHORS.lambdaErrors,
      'A handler caught an unexpected exception and served a generic "try again" page (log code UNEXPECTED_ERROR).',
    );

    for (const [name, fn] of Object.entries(props.functions)) {
      const isRefresher = fn === props.refresher;
      this.add(
        `${name}LambdaErrors`,
        fn.metricErrors({ period: this.period, statistic: Stats.SUM }),
        t.lambdaErrors,
        isRefresher ? RUNBOOK_ANCHORS.refresherErrors : RUNBOOK_ANCHORS.lambdaErrors,
        isRefresher
          ? 'A keep-alive run of the refresher failed or timed out; it is not retried, the next scheduled run repeats it.'
          : `The ${name} function failed with unhandled errors or timeouts.`,
      );
      this.add(
        `${name}LambdaThrottles`,
        fn.metricThrottles({ period: this.period, statistic: Stats.SUM }),
        t.lambdaThrottles,
        RUNBOOK_ANCHORS.lambdaThrottles,
        `Invocations of the ${name} function were throttled (account or function concurrency).`,
      );
    }

    this.add(
      'Api5xx',
      props.api.metricServerError({ period: this.period, statistic: Stats.SUM }),
      t.api5xx,
      RUNBOOK_ANCHORS.api5xx,
      'The HTTP API answered 5xx: an integration failed, timed out or was throttled.',
    );

    for (const [name, table] of Object.entries(props.tables)) {
      this.add(
        `${name}TableThrottles`,
        new MathExpression({
          expression: 'FILL(readThrottles, 0) + FILL(writeThrottles, 0)',
          usingMetrics: {
            readThrottles: table.metric('ReadThrottleEvents', { period: this.period, statistic: Stats.SUM }),
            writeThrottles: table.metric('WriteThrottleEvents', {
              period: this.period,
              statistic: Stats.SUM,
            }),
          },
          label: `${name} table throttle events`,
          period: this.period,
        }),
        t.dynamoDbThrottles,
        RUNBOOK_ANCHORS.dynamoDbThrottles,
        `DynamoDB throttled requests to the ${name} table.`,
      );
      this.add(
        `${name}TableSystemErrors`,
        table.metricSystemErrorsForOperations({
          operations: TABLE_OPERATIONS,
          period: this.period,
          statistic: Stats.SUM,
        }),
        t.dynamoDbSystemErrors,
        RUNBOOK_ANCHORS.dynamoDbSystemErrors,
        `DynamoDB answered with system errors (HTTP 500) for the ${name} table.`,
      );
    }
  }

  /**
   * An alarm on messages waiting in a dead-letter queue: any one is something a person must look
   * at. The queue's metric is published every minute, so missing data is only a queue not yet used.
   */
  watchDeadLetters(name: string, queue: IQueue, anchor: RunbookAnchor, what: string): Alarm {
    return this.add(
      name,
      queue.metricApproximateNumberOfMessagesVisible({ period: this.period, statistic: Stats.MAXIMUM }),
      1,
      anchor,
      what,
    );
  }

  private add(
    name: string,
    metric: IMetric,
    threshold: number,
    anchor: RunbookAnchor,
    what: string,
    shape: AlarmShape = COUNT,
  ): Alarm {
    const alarm = new Alarm(this, `${name}Alarm`, {
      metric,
      threshold,
      evaluationPeriods: shape.evaluationPeriods,
      datapointsToAlarm: shape.evaluationPeriods,
      comparisonOperator: shape.comparisonOperator,
      treatMissingData: shape.treatMissingData,
      alarmDescription: `${what} Runbook: ${this.props.runbookUrl}#${anchor}`,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}
