import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AlarmWidget,
  Dashboard,
  GraphWidget,
  MathExpression,
  Stats,
  TextWidget,
  type IAlarm,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { METRICS } from '../../lambdas/core/telemetry-codes';
import type { ConnectorMetrics } from './connector-metrics';

export interface ConnectorDashboardProps {
  readonly envName: string;
  readonly metrics: ConnectorMetrics;
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly api: HttpApi;
  readonly invalidGrantAlarm: IAlarm;
  /** How often the refresher publishes the connection gauges. */
  readonly gaugePeriod: Duration;
}

/**
 * One screen for on-call: are people connecting, how do callbacks end, is Intuit saying
 * `invalid_grant`, how slow is the exchange, is the app getting tokens, are refreshes failing, how
 * many connections need their user, and is anything erroring.
 */
export class ConnectorDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ConnectorDashboardProps) {
    super(scope, id);
    const m = props.metrics;
    const period = Duration.minutes(5);

    // Every way an exchange can end badly, so "callbacks by outcome" adds up.
    const failed = new MathExpression({
      expression:
        'FILL(invalidGrant, 0) + FILL(invalidClient, 0) + FILL(exchangeFailed, 0) + FILL(exchangeAmbiguous, 0) + FILL(storeFailed, 0)',
      usingMetrics: {
        invalidGrant: m.metric(METRICS.InvalidGrant),
        invalidClient: m.metric(METRICS.InvalidClient),
        exchangeFailed: m.metric(METRICS.TokenExchangeFailed),
        exchangeAmbiguous: m.metric(METRICS.TokenExchangeAmbiguous),
        storeFailed: m.metric(METRICS.TokenStoreFailed),
      },
      label: 'Failed',
      period,
    });

    const perFunction = (metric: (fn: IFunction, label: string) => IMetric): IMetric[] =>
      Object.entries(props.functions).map(([name, fn]) => metric(fn, name));

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new TextWidget({
            markdown: `# QuickBooks connector (${props.envName})\nAlarms and what to do: docs/runbook.md`,
            width: 24,
            height: 2,
          }),
        ],
        [
          new GraphWidget({
            title: 'Connects started',
            left: [m.metric(METRICS.ConnectStarted, { label: 'Connect started' })],
            width: 8,
          }),
          new GraphWidget({
            title: 'Callbacks by outcome',
            stacked: true,
            left: [
              m.metric(METRICS.CallbackConnected, { label: 'Connected' }),
              m.metric(METRICS.CallbackReplayed, { label: 'Replayed' }),
              m.metric(METRICS.CallbackCancelled, { label: 'Cancelled' }),
              m.metric(METRICS.CallbackRejected, { label: 'Rejected' }),
              failed,
            ],
            width: 8,
          }),
          new AlarmWidget({ title: 'invalid_grant from Intuit', alarm: props.invalidGrantAlarm, width: 8 }),
        ],
        [
          new GraphWidget({
            title: 'Token exchange latency (ms)',
            left: [
              m.metric(METRICS.TokenExchangeLatency, { statistic: Stats.p(50), label: 'p50' }),
              m.metric(METRICS.TokenExchangeLatency, { statistic: Stats.p(90), label: 'p90' }),
              m.metric(METRICS.TokenExchangeLatency, { statistic: Stats.p(99), label: 'p99' }),
            ],
            width: 8,
          }),
          new GraphWidget({
            title: 'Connector errors',
            left: [
              m.metric(METRICS.InvalidClient, { label: 'InvalidClient' }),
              m.metric(METRICS.ConfigError, { label: 'ConfigError' }),
              m.metric(METRICS.TokenExchangeFailed, { label: 'TokenExchangeFailed' }),
              m.metric(METRICS.TokenExchangeAmbiguous, { label: 'TokenExchangeAmbiguous' }),
              m.metric(METRICS.TokenStoreFailed, { label: 'TokenStoreFailed' }),
              m.metric(METRICS.StorageUnavailable, { label: 'StorageUnavailable' }),
            ],
            width: 8,
          }),
          new GraphWidget({
            title: 'Lambda errors and API 5xx',
            left: [
              ...perFunction((fn, label) =>
                fn.metricErrors({ period, statistic: Stats.SUM, label: `${label} errors` }),
              ),
              props.api.metricServerError({ period, statistic: Stats.SUM, label: 'API 5xx' }),
            ],
            right: [props.api.metricClientError({ period, statistic: Stats.SUM, label: 'API 4xx' })],
            width: 8,
          }),
        ],
        [
          new GraphWidget({
            title: 'Tokens served and refreshed',
            left: [
              m.metric(METRICS.TokenServed, { label: 'Served to the app' }),
              m.metric(METRICS.TokenRefreshed, { label: 'Refreshed at Intuit' }),
            ],
            width: 8,
          }),
          new GraphWidget({
            title: 'Refresh problems',
            left: [
              m.metric(METRICS.RefreshInvalidGrant, { label: 'invalid_grant (needs reconnect)' }),
              m.metric(METRICS.RefreshAmbiguous, { label: 'Ambiguous (kept, retried later)' }),
            ],
            width: 8,
          }),
          new GraphWidget({
            title: 'Connections needing attention (latest keep-alive run)',
            left: [
              m.metric(METRICS.ConnectionsReconnectRequired, {
                statistic: Stats.MAXIMUM,
                period: props.gaugePeriod,
                label: 'Reconnect required',
              }),
              m.metric(METRICS.ConnectionsNearHardExpiry, {
                statistic: Stats.MAXIMUM,
                period: props.gaugePeriod,
                label: 'Within 30 days of the 5-year cap',
              }),
            ],
            width: 8,
          }),
        ],
        [
          new GraphWidget({
            title: 'Lambda duration p99 (ms)',
            left: perFunction((fn, label) => fn.metricDuration({ period, statistic: Stats.p(99), label })),
            width: 12,
          }),
          new GraphWidget({
            title: 'Lambda throttles',
            left: perFunction((fn, label) => fn.metricThrottles({ period, statistic: Stats.SUM, label })),
            width: 12,
          }),
        ],
      ],
    });
  }
}
