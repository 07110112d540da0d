/** The keep-alive schedule: EventBridge Scheduler invoking the refresher at the configured rate, once. */
import { ENVIRONMENTS } from '../../lib/config/environments';
import {
  propertiesOf,
  resourcesOfType,
  synthesizeConnector,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import { SYNTHESIS_TIMEOUT_MS, connectors } from './support/connector-environments';
import { nameOf } from './support/template';

const schedulesOf = (c: SynthesizedConnector): Json[] =>
  Object.values(resourcesOfType(c.statelessTemplate, 'AWS::Scheduler::Schedule')).map(propertiesOf);

beforeAll(() => {
  connectors();
}, SYNTHESIS_TIMEOUT_MS);

describe('the keep-alive schedule', () => {
  it('invokes the refresher every hour by default, on time, enabled, and never retries a run', () => {
    for (const [, c] of connectors()) {
      const schedules = schedulesOf(c);
      expect(schedules).toHaveLength(1);
      expect(schedules[0]).toMatchObject({
        ScheduleExpression: 'rate(1 hour)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: { RetryPolicy: { MaximumRetryAttempts: 0 } },
      });
      const target = schedules[0]!['Target'] as Json;
      expect(nameOf(c, target['Arn'])).toBe('RefresherFunction.Arn');
      expect(nameOf(c, target['RoleArn'])).toBe(
        nameOf(c, c.stateless.resolve(c.stateless.keepAliveRole.roleArn)),
      );
      // No input: the refresher decides what is due from the index, not from the event.
      expect(target['Input']).toBeUndefined();
      expect(target['DeadLetterConfig']).toBeUndefined();
    }
  });

  it(
    'runs at the configured interval',
    () => {
      const c = synthesizeConnector('dev', { dev: { ...ENVIRONMENTS.dev, keepAliveIntervalMinutes: 90 } });
      expect(schedulesOf(c)[0]).toMatchObject({ ScheduleExpression: 'rate(90 minutes)' });
    },
    SYNTHESIS_TIMEOUT_MS,
  );

  it('is the only way the refresher is invoked: it serves no route', () => {
    for (const [, c] of connectors()) {
      const integrated = Object.values(
        resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Integration'),
      ).map((i) => nameOf(c, propertiesOf(i)['IntegrationUri']));
      expect(integrated).not.toContain('RefresherFunction.Arn');
      const permissions = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::Lambda::Permission'))
        .map(propertiesOf)
        .filter((p) => nameOf(c, p['FunctionName']) === 'RefresherFunction.Arn');
      expect(permissions).toEqual([]);
    }
  });
});
