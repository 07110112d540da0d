/** Alarms on the connector's metrics, Lambda, API Gateway and DynamoDB, their topic, runbook links and the dashboard. */
import {
  GAUGE_METRICS,
  METRICS,
  METRIC_NAMESPACE,
  SERVICE_NAME,
  type MetricName,
} from '../../lambdas/core/telemetry-codes';
import { ENVIRONMENTS, type EnvironmentConfig } from '../../lib/config/environments';
import { RUNBOOK_ANCHORS } from '../../lib/runbook';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  synthesizeConnector,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import {
  STAGING,
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';
import { runbookSections } from './support/runbook-sections';
import { alarms, nameOf, sortedDimensions } from './support/template';

let prod: SynthesizedConnector;
let staging: SynthesizedConnector;

beforeAll(() => {
  ({ prod, staging } = synthesizeConnectorEnvironments());
}, SYNTHESIS_TIMEOUT_MS);

describe('alarms', () => {
  const CONNECTOR_ALARMS: [string, keyof EnvironmentConfig['alarmThresholds'], string][] = [
    [METRICS.InvalidGrant, 'invalidGrant', RUNBOOK_ANCHORS.invalidGrant],
    [METRICS.InvalidClient, 'invalidClient', RUNBOOK_ANCHORS.invalidClient],
    [METRICS.ConfigError, 'configError', RUNBOOK_ANCHORS.configError],
    [METRICS.TokenExchangeFailed, 'tokenExchangeFailed', RUNBOOK_ANCHORS.tokenExchangeFailed],
    [METRICS.TokenExchangeAmbiguous, 'tokenExchangeAmbiguous', RUNBOOK_ANCHORS.tokenExchangeAmbiguous],
    [METRICS.TokenStoreFailed, 'tokenStoreFailed', RUNBOOK_ANCHORS.tokenStoreFailed],
    [METRICS.RealmMismatch, 'realmMismatch', RUNBOOK_ANCHORS.realmMismatch],
    [METRICS.CompanyCheckUnavailable, 'companyCheckUnavailable', RUNBOOK_ANCHORS.companyCheckUnavailable],
    [METRICS.SecretsUnavailable, 'secretsUnavailable', RUNBOOK_ANCHORS.secretsUnavailable],
    [METRICS.StorageUnavailable, 'storageUnavailable', RUNBOOK_ANCHORS.storageUnavailable],
    [METRICS.UnexpectedError, 'lambdaErrors', RUNBOOK_ANCHORS.lambdaErrors],
    [METRICS.RefreshInvalidGrant, 'refreshInvalidGrantBurst', RUNBOOK_ANCHORS.refreshInvalidGrant],
    [METRICS.RefreshStoreFailed, 'refreshStoreFailed', RUNBOOK_ANCHORS.refreshStoreFailed],
    [METRICS.KeyServiceUnavailable, 'keyServiceUnavailable', RUNBOOK_ANCHORS.keyServiceUnavailable],
    [METRICS.TokenDecryptFailed, 'tokenDecryptFailed', RUNBOOK_ANCHORS.tokenDecryptFailed],
  ];

  it.each(CONNECTOR_ALARMS)(
    'watch %s as the handlers emit it (service and Environment dimensions, Sum) at the configured threshold',
    (metricName, threshold, anchor) => {
      for (const [name, c] of connectors()) {
        const matching = alarms(c).filter(
          (a) => a['Namespace'] === METRIC_NAMESPACE && a['MetricName'] === metricName,
        );
        expect(matching).toHaveLength(1);
        expect(matching[0]).toMatchObject({
          Statistic: 'Sum',
          Period: 300,
          EvaluationPeriods: 1,
          Threshold: c.config.alarmThresholds[threshold],
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        expect(sortedDimensions(matching[0]!)).toEqual([
          { Name: 'Environment', Value: name },
          { Name: 'service', Value: SERVICE_NAME },
        ]);
        expect(matching[0]!['AlarmDescription']).toContain(`Runbook: docs/runbook.md#${anchor}`);
      }
    },
  );

  it('page on any invalid_grant in 5 minutes by default', () => {
    const invalidGrant = alarms(prod).find((a) => a['MetricName'] === METRICS.InvalidGrant);
    expect(invalidGrant).toMatchObject({ Threshold: 1, Period: 300, Statistic: 'Sum' });
  });

  const connectorAlarm = (c: SynthesizedConnector, metricName: string): Json => {
    const matching = alarms(c).filter(
      (a) => a['Namespace'] === METRIC_NAMESPACE && a['MetricName'] === metricName,
    );
    expect(matching).toHaveLength(1);
    return matching[0]!;
  };

  it("do not page for one company's refused refresh token, but for five across companies in 5 minutes", () => {
    // A connection counts once: after invalid_grant it is never refreshed again until a reconnect.
    expect(connectorAlarm(prod, METRICS.RefreshInvalidGrant)).toMatchObject({
      Threshold: 5,
      Period: 300,
      Statistic: 'Sum',
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('page on ambiguous refreshes only when sustained: at least 10 in each of 3 periods in a row', () => {
    for (const [name, c] of connectors()) {
      const alarm = connectorAlarm(c, METRICS.RefreshAmbiguous);
      expect(alarm).toMatchObject({
        Threshold: c.config.alarmThresholds.refreshAmbiguous,
        Period: 300,
        Statistic: 'Sum',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(sortedDimensions(alarm)).toEqual([
        { Name: 'Environment', Value: name },
        { Name: 'service', Value: SERVICE_NAME },
      ]);
      expect(alarm['AlarmDescription']).toContain(
        `Runbook: docs/runbook.md#${RUNBOOK_ANCHORS.refreshAmbiguous}`,
      );
    }
    expect(connectorAlarm(prod, METRICS.RefreshAmbiguous)['Threshold']).toBe(10);
  });

  it.each<[string, number | 'configured', string]>([
    [METRICS.ConnectionsReconnectRequired, 'configured', RUNBOOK_ANCHORS.connectionsReconnectRequired],
    [METRICS.ConnectionsNearHardExpiry, 0, RUNBOOK_ANCHORS.connectionsNearHardExpiry],
  ])(
    "watch the refresher's gauge %s: the latest run's Maximum, strictly above %s, keeping state between runs",
    (metricName, threshold, anchor) => {
      for (const [name, c] of connectors()) {
        const alarm = connectorAlarm(c, metricName);
        expect(alarm).toMatchObject({
          Statistic: 'Maximum',
          // One period per keep-alive run, so each period holds one published count.
          Period: c.config.keepAliveIntervalMinutes * 60,
          EvaluationPeriods: 1,
          Threshold:
            threshold === 'configured' ? c.config.alarmThresholds.connectionsReconnectRequired : threshold,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'ignore',
        });
        expect(sortedDimensions(alarm)).toEqual([
          { Name: 'Environment', Value: name },
          { Name: 'service', Value: SERVICE_NAME },
        ]);
        expect(alarm['AlarmDescription']).toContain(`Runbook: docs/runbook.md#${anchor}`);
      }
      expect(connectorAlarm(prod, METRICS.ConnectionsReconnectRequired)['Threshold']).toBe(10);
    },
  );

  it('watch only metrics the registry names, and the gauges as gauges', () => {
    for (const [, c] of connectors()) {
      for (const alarm of alarms(c).filter((a) => a['Namespace'] === METRIC_NAMESPACE)) {
        const metricName = alarm['MetricName'] as MetricName;
        expect(Object.values(METRICS)).toContain(metricName);
        expect(alarm['Statistic']).toBe(GAUGE_METRICS.includes(metricName) ? 'Maximum' : 'Sum');
      }
    }
  });

  it('notice a keep-alive schedule that stopped: no refresher invocation in two runs in a row', () => {
    for (const [, c] of connectors()) {
      const notRunning = alarms(c).filter(
        (a) => a['Namespace'] === 'AWS/Lambda' && a['MetricName'] === 'Invocations',
      );
      expect(notRunning).toHaveLength(1);
      expect(notRunning[0]).toMatchObject({
        Statistic: 'Sum',
        Period: c.config.keepAliveIntervalMinutes * 60,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
      });
      expect(nameOf(c, sortedDimensions(notRunning[0]!)[0]!.Value)).toBe('RefresherFunction.Ref');
      expect(notRunning[0]!['AlarmDescription']).toContain(
        `Runbook: docs/runbook.md#${RUNBOOK_ANCHORS.keepAliveNotRunning}`,
      );
    }
  });

  it(
    'given a daily keep-alive, look at one run, inside CloudWatch evaluation range of a day',
    () => {
      const c = synthesizeConnector('dev', { dev: { ...ENVIRONMENTS.dev, keepAliveIntervalMinutes: 1440 } });
      const notRunning = alarms(c).find((a) => a['MetricName'] === 'Invocations');
      expect(notRunning).toMatchObject({ Period: 86_400, EvaluationPeriods: 1 });
    },
    SYNTHESIS_TIMEOUT_MS,
  );

  it("give the refresher's errors their own runbook entry", () => {
    for (const [, c] of connectors()) {
      const refresherErrors = alarms(c).filter(
        (a) =>
          a['Namespace'] === 'AWS/Lambda' &&
          a['MetricName'] === 'Errors' &&
          nameOf(c, sortedDimensions(a)[0]!.Value) === 'RefresherFunction.Ref',
      );
      expect(refresherErrors).toHaveLength(1);
      expect(refresherErrors[0]!['AlarmDescription']).toContain(
        `Runbook: docs/runbook.md#${RUNBOOK_ANCHORS.refresherErrors}`,
      );
    }
  });

  it.each(['Errors', 'Throttles'])('watch Lambda %s of each function', (metricName) => {
    for (const [, c] of connectors()) {
      const watched = alarms(c)
        .filter((a) => a['Namespace'] === 'AWS/Lambda' && a['MetricName'] === metricName)
        .map((a) => {
          expect(a).toMatchObject({ Statistic: 'Sum', Threshold: 1 });
          return nameOf(c, sortedDimensions(a)[0]!.Value);
        })
        .sort();
      expect(watched).toEqual([
        'ApiFunction.Ref',
        'CallbackFunction.Ref',
        'ConnectFunction.Ref',
        'EventsFunction.Ref',
        'OutcomeFunction.Ref',
        'RefresherFunction.Ref',
      ]);
    }
  });

  it('watch 5xx answers of the HTTP API', () => {
    for (const [, c] of connectors()) {
      const apiId = logicalIdOf(c.stateless, c.stateless.api.httpApi);
      const api5xx = alarms(c).filter(
        (a) => a['Namespace'] === 'AWS/ApiGateway' && a['MetricName'] === '5xx',
      );
      expect(api5xx).toHaveLength(1);
      expect(api5xx[0]).toMatchObject({
        Statistic: 'Sum',
        Dimensions: [{ Name: 'ApiId', Value: { Ref: apiId } }],
      });
    }
  });

  it.each([
    ['ReadThrottleEvents', 'FlowTable'],
    ['WriteThrottleEvents', 'FlowTable'],
    ['ReadThrottleEvents', 'ConnectionTable'],
    ['WriteThrottleEvents', 'ConnectionTable'],
    ['SystemErrors', 'FlowTable'],
    ['SystemErrors', 'ConnectionTable'],
  ])('watch DynamoDB %s on the %s', (metricName, table) => {
    for (const [, c] of connectors()) {
      const watching = alarms(c).filter((a) =>
        ((a['Metrics'] ?? []) as { MetricStat?: { Metric: Json } }[]).some((m) => {
          const metric = m.MetricStat?.Metric;
          if (metric === undefined || metric['MetricName'] !== metricName) return false;
          const dims = metric['Dimensions'] as { Name: string; Value: unknown }[];
          return dims.some((d) => d.Name === 'TableName' && nameOf(c, d.Value) === `${table}.Ref`);
        }),
      );
      expect(watching).toHaveLength(1);
    }
  });

  it('every alarm notifies the encrypted topic on alarm and on recovery; counts treat missing data as nothing happened', () => {
    for (const [, c] of connectors()) {
      const topicRef = { Ref: logicalIdOf(c.stateless, c.stateless.alarms.topic) };
      const all = alarms(c);
      // Connector counts, the two gauges, the keep-alive heartbeat, Errors and Throttles per
      // function, API 5xx, two per table, the lifecycle events' failure queue.
      expect(all).toHaveLength(16 + 2 + 1 + 2 * 6 + 1 + 2 * 2 + 1);
      for (const alarm of all) {
        const isGauge = GAUGE_METRICS.includes(alarm['MetricName'] as MetricName);
        const isHeartbeat = alarm['MetricName'] === 'Invocations';
        expect(alarm).toMatchObject({
          AlarmActions: [topicRef],
          OKActions: [topicRef],
          TreatMissingData: isGauge ? 'ignore' : isHeartbeat ? 'breaching' : 'notBreaching',
        });
      }
    }
  });

  it('every alarm description links to a runbook entry that exists and has a Logs Insights query', () => {
    const sections = runbookSections();
    for (const [, c] of connectors()) {
      for (const alarm of alarms(c)) {
        const link = /Runbook: docs\/runbook\.md#([a-z0-9-]+)$/.exec(alarm['AlarmDescription'] as string);
        expect(link).not.toBeNull();
        const section = sections.get(link![1]!);
        expect(section).toBeDefined();
        expect(section).toMatch(/```[\s\S]*\b(fields|filter|stats)\b[\s\S]*```/);
      }
    }
  });

  it('the topic is KMS encrypted, refuses non-TLS publishers, and accepts this account’s alarms', () => {
    for (const [, c] of connectors()) {
      c.statelessTemplate.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: {} });
      const policy = propertiesOf(
        Object.values(resourcesOfType(c.statelessTemplate, 'AWS::SNS::TopicPolicy'))[0]!,
      );
      const statements = (policy['PolicyDocument'] as { Statement: Json[] }).Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' } }),
      );
    }
  });

  it('subscribe the alarm email only when one is configured', () => {
    staging.statelessTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: STAGING.alarmEmail,
    });
    prod.statelessTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('the dashboard', () => {
  it('shows connects, callbacks by outcome, invalid_grant, exchange latency, tokens served and refreshed, refresh problems, the gauges and errors', () => {
    for (const [, c] of connectors()) {
      const dashboards = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::CloudWatch::Dashboard'));
      expect(dashboards).toHaveLength(1);
      const body = JSON.stringify(propertiesOf(dashboards[0]!)['DashboardBody']);
      for (const metric of [
        METRICS.ConnectStarted,
        METRICS.CallbackConnected,
        METRICS.CallbackReplayed,
        METRICS.CallbackCancelled,
        METRICS.CallbackRejected,
        METRICS.InvalidGrant,
        METRICS.TokenExchangeLatency,
        METRICS.ConfigError,
        METRICS.StorageUnavailable,
        METRICS.TokenServed,
        METRICS.TokenRefreshed,
        METRICS.RefreshInvalidGrant,
        METRICS.RefreshAmbiguous,
        METRICS.ConnectionsReconnectRequired,
        METRICS.ConnectionsNearHardExpiry,
      ]) {
        expect(body).toContain(`\\"${metric}\\"`);
      }
      expect(body).toContain('Callbacks by outcome');
      expect(body).toContain('Failed');
      // The gauges as the alarms read them: the latest run's count, one period per run.
      const gaugeOptions = `\\"period\\":${c.config.keepAliveIntervalMinutes * 60},\\"stat\\":\\"Maximum\\"`;
      expect(body).toContain(`\\"Reconnect required\\",${gaugeOptions}`);
      expect(body).toContain(`\\"Within 30 days of the 5-year cap\\",${gaugeOptions}`);
    }
  });
});
