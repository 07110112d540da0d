import { spawnSync } from 'node:child_process';
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  DEFAULT_SCOPES,
  ENVIRONMENTS,
  EnvironmentConfigError,
  resolveConnectionIndexLimit,
  requireSignedConnectLinksOf,
  resolveEnvironment,
  type EnvironmentConfig,
} from '../../lib/config/environments';
import { PROJECT_ROOT } from '../../lib/project-paths';

const withProd = (overrides: Partial<EnvironmentConfig>) => ({
  prod: { ...ENVIRONMENTS.prod, ...overrides },
});

describe('choosing an environment', () => {
  it.each([
    ['no name', undefined, /no environment was given/],
    ['an unknown name', 'staging', /unknown environment "staging"/],
    ['the name of an inherited property', 'toString', /unknown environment "toString"/],
    ['a name that is not a string', 42, /unknown environment 42/],
  ])('given %s, fails with a message listing the valid names', (_case, name, message) => {
    expect(() => resolveEnvironment(name)).toThrow(EnvironmentConfigError);
    expect(() => resolveEnvironment(name)).toThrow(message);
    expect(() => resolveEnvironment(name)).toThrow(/one of: dev, prod$/);
  });

  it('resolves dev to Intuit sandbox and prod to Intuit production', () => {
    expect(resolveEnvironment('dev')).toEqual({ envName: 'dev', config: ENVIRONMENTS.dev });
    expect(resolveEnvironment('dev').config.qboEnvironment).toBe('sandbox');
    expect(resolveEnvironment('prod').config.qboEnvironment).toBe('production');
  });

  it('gives prod RETAIN, deletion protection and PITR (docs/security.md D1)', () => {
    expect(ENVIRONMENTS.prod.dataProtection).toEqual({
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
      pointInTimeRecovery: true,
    });
  });

  it('defaults: accounting scope, 15-minute flows, 8 s token timeout, page on any invalid_grant in 5 minutes', () => {
    for (const config of Object.values(ENVIRONMENTS)) {
      expect(config.scopes).toEqual(DEFAULT_SCOPES);
      expect(DEFAULT_SCOPES).toEqual(['com.intuit.quickbooks.accounting']);
      expect(config.flowTtlSeconds).toBe(900);
      expect(config.tokenRequestTimeoutMs).toBe(8000);
      expect(config.alarmThresholds).toMatchObject({ invalidGrant: 1, periodMinutes: 5 });
    }
  });

  it('A5/I1: requires signed connect links in prod and not in dev; unset, a production environment requires them', () => {
    expect(requireSignedConnectLinksOf(ENVIRONMENTS.prod)).toBe(true);
    expect(requireSignedConnectLinksOf(ENVIRONMENTS.dev)).toBe(false);
    const unset = (config: EnvironmentConfig): EnvironmentConfig =>
      Object.fromEntries(
        Object.entries(config).filter(([key]) => key !== 'requireSignedConnectLinks'),
      ) as unknown as EnvironmentConfig;
    const prodDefault = unset(ENVIRONMENTS.prod);
    const devDefault = unset(ENVIRONMENTS.dev);
    expect(prodDefault.requireSignedConnectLinks).toBeUndefined();
    expect(requireSignedConnectLinksOf(prodDefault)).toBe(true);
    expect(requireSignedConnectLinksOf(devDefault)).toBe(false);
    expect(requireSignedConnectLinksOf({ ...ENVIRONMENTS.prod, requireSignedConnectLinks: false })).toBe(
      false,
    );
  });

  it('leaves account and region unset so synth needs no credentials or lookups', () => {
    for (const config of Object.values(ENVIRONMENTS)) {
      expect(config.account).toBeUndefined();
      expect(config.region).toBeUndefined();
    }
  });
});

describe('validating the chosen configuration', () => {
  it.each<[string, Partial<EnvironmentConfig>, RegExp]>([
    [
      'a token timeout that does not fit the callback',
      { tokenRequestTimeoutMs: 19_000 },
      /tokenRequestTimeoutMs/,
    ],
    ['a flow TTL beyond an hour', { flowTtlSeconds: 7200 }, /flowTtlSeconds/],
    ['no scopes', { scopes: [] }, /scopes/],
    ['a scope with a space', { scopes: ['a b'] }, /scopes/],
    ['an http return URL', { appReturnUrl: 'http://app.example.com' }, /appReturnUrl must be an https URL/],
    [
      'an http success URL',
      { appSuccessUrl: 'http://app.example.com/ok' },
      /appSuccessUrl must be an https URL/,
    ],
    [
      'an http failure URL',
      { appFailureUrl: 'http://app.example.com/ko' },
      /appFailureUrl must be an https URL/,
    ],
    ['a malformed alarm email', { alarmEmail: 'on-call' }, /alarmEmail/],
    [
      'a certificate that is not an ACM ARN',
      { customDomain: { domainName: 'connect.example.com', certificateArn: 'cert-123' } },
      /certificateArn/,
    ],
    ['a runbook URL with an anchor', { runbookUrl: 'docs/runbook.md#x' }, /runbookUrl/],
    [
      'an alarm threshold of zero',
      { alarmThresholds: { ...ENVIRONMENTS.prod.alarmThresholds, invalidGrant: 0 } },
      /alarmThresholds\.invalidGrant/,
    ],
    [
      'a negative reconnect-required threshold',
      { alarmThresholds: { ...ENVIRONMENTS.prod.alarmThresholds, connectionsReconnectRequired: -1 } },
      /alarmThresholds\.connectionsReconnectRequired must be at least 0/,
    ],
    [
      'an API caller that is an 11-digit account',
      { apiCallerPrincipals: ['12345678901'] },
      /apiCallerPrincipals: "12345678901" is neither a 12-digit account ID nor an IAM role or user ARN/,
    ],
    [
      'an API caller that is a group, not a role or user',
      { apiCallerPrincipals: ['arn:aws:iam::123456789012:group/apps'] },
      /apiCallerPrincipals: "arn:aws:iam::123456789012:group\/apps"/,
    ],
    ['an API caller that is a wildcard', { apiCallerPrincipals: ['*'] }, /apiCallerPrincipals: "\*"/],
    [
      'the same API caller twice',
      { apiCallerPrincipals: ['123456789012', '123456789012'] },
      /apiCallerPrincipals lists a principal twice/,
    ],
    ['an external ID of one character', { apiCallerExternalId: 'x' }, /apiCallerExternalId/],
    ['an external ID with a space', { apiCallerExternalId: 'my id' }, /apiCallerExternalId/],
    [
      'a keep-alive every 10 minutes',
      { keepAliveIntervalMinutes: 10 },
      /keepAliveIntervalMinutes must be an integer between 15 and 1440/,
    ],
    ['a keep-alive every two days', { keepAliveIntervalMinutes: 2880 }, /keepAliveIntervalMinutes/],
    ['a keep-alive every 30.5 minutes', { keepAliveIntervalMinutes: 30.5 }, /keepAliveIntervalMinutes/],
  ])('rejects %s, naming the field', (_case, overrides, message) => {
    expect(() => resolveEnvironment('prod', withProd(overrides))).toThrow(
      /environment prod is misconfigured/,
    );
    expect(() => resolveEnvironment('prod', withProd(overrides))).toThrow(message);
  });

  it('defaults: the API caller role trusts its own account only, and the keep-alive runs hourly', () => {
    for (const config of Object.values(ENVIRONMENTS)) {
      expect(config.apiCallerPrincipals).toEqual([]);
      expect(config.apiCallerExternalId).toBeUndefined();
      expect(config.keepAliveIntervalMinutes).toBe(60);
      expect(config.alarmThresholds).toMatchObject({
        refreshInvalidGrantBurst: 5,
        refreshStoreFailed: 1,
        refreshAmbiguous: 10,
        keyServiceUnavailable: 1,
        tokenDecryptFailed: 1,
        connectionsReconnectRequired: 10,
      });
    }
  });

  it.each([15, 1440])('accepts a keep-alive every %i minutes (the bounds)', (minutes) => {
    expect(
      resolveEnvironment('prod', withProd({ keepAliveIntervalMinutes: minutes })).config
        .keepAliveIntervalMinutes,
    ).toBe(minutes);
  });

  it('accepts account IDs, role and user ARNs (any partition) as API callers, with an external ID', () => {
    const principals = [
      '123456789012',
      'arn:aws:iam::123456789012:role/service-role/billing-app',
      'arn:aws:iam::210987654321:user/qbo-app',
      'arn:aws-us-gov:iam::123456789012:role/app',
    ];
    const config = withProd({ apiCallerPrincipals: principals, apiCallerExternalId: 'qbo-connector-7f3a' });
    expect(resolveEnvironment('prod', config).config.apiCallerPrincipals).toEqual(principals);
  });

  it('accepts any number of reconnect-required connections as the threshold, 0 meaning any', () => {
    const config = withProd({
      alarmThresholds: { ...ENVIRONMENTS.prod.alarmThresholds, connectionsReconnectRequired: 0 },
    });
    expect(resolveEnvironment('prod', config).config.alarmThresholds.connectionsReconnectRequired).toBe(0);
  });

  it('accepts every optional setting when well-formed', () => {
    const config = withProd({
      account: '123456789012',
      region: 'eu-west-1',
      appReturnUrl: 'https://app.example.com/settings',
      alarmEmail: 'oncall@example.com',
      customDomain: {
        domainName: 'connect.example.com',
        certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0f6b2c1e-1111-2222-3333-444455556666',
      },
    });
    expect(resolveEnvironment('prod', config).config).toBe(config.prod);
  });
});

describe('the connectionIndexes context (upgrading an older table one index per deploy)', () => {
  it('builds every index when not given, and the given number otherwise', () => {
    expect(resolveConnectionIndexLimit(undefined, 4)).toBe(4);
    expect(resolveConnectionIndexLimit('0', 4)).toBe(0);
    expect(resolveConnectionIndexLimit('2', 4)).toBe(2);
    expect(resolveConnectionIndexLimit(3, 4)).toBe(3);
  });

  it.each(['5', '-1', '1.5', 'two', ''])('refuses %j with the range', (value) => {
    expect(() => resolveConnectionIndexLimit(value, 4)).toThrow(EnvironmentConfigError);
    expect(() => resolveConnectionIndexLimit(value, 4)).toThrow(
      /connectionIndexes must be a whole number from 0 to 4/,
    );
  });
});

describe('given `cdk synth` with an unknown environment', () => {
  it('exits 1 with the list of valid names and no stack trace', () => {
    const result = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'bin/app.ts'], {
      cwd: PROJECT_ROOT,
      // How the CDK CLI hands `--context env=staging` to the app.
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ env: 'staging' }) },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('unknown environment "staging"');
    expect(result.stderr).toContain('one of: dev, prod');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
