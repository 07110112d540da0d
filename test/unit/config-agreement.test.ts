/**
 * One source for each bound: what `cdk synth` accepts for an environment, the functions accept at
 * start-up, and the reverse. Both validators get the same cases.
 */
import { loadServiceConfig } from '../../lambdas/core/config';
import { ConfigError } from '../../lambdas/core/errors';
import { ENVIRONMENTS, EnvironmentConfigError, resolveEnvironment } from '../../lib/config/environments';
import type { EnvironmentConfig } from '../../lib/config/environments';

const BASE_ENV = {
  APP_ENV: 'dev',
  QBO_REDIRECT_URI: 'https://connect.example.com/callback',
  FLOW_TABLE_NAME: 'flows',
  CONNECTION_TABLE_NAME: 'connections',
};

type Case = {
  readonly name: string;
  readonly cdk: Partial<EnvironmentConfig>;
  readonly env: Record<string, string>;
};

function cdkAccepts(overrides: Partial<EnvironmentConfig>): boolean {
  try {
    resolveEnvironment('dev', { dev: { ...ENVIRONMENTS.dev, ...overrides } });
    return true;
  } catch (error) {
    if (error instanceof EnvironmentConfigError) return false;
    throw error;
  }
}

function functionsAccept(env: Record<string, string>): boolean {
  try {
    loadServiceConfig({ ...BASE_ENV, ...env });
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

const ttl = (seconds: number): Case => ({
  name: `flow TTL ${seconds} s`,
  cdk: { flowTtlSeconds: seconds },
  env: { FLOW_TTL_SECONDS: String(seconds) },
});
const tokenTimeout = (ms: number, check?: number): Case => ({
  name: `token timeout ${ms} ms${check !== undefined ? ` with a ${check} ms company check` : ''}`,
  cdk: { tokenRequestTimeoutMs: ms, ...(check !== undefined ? { companyCheckTimeoutMs: check } : {}) },
  env: {
    TOKEN_REQUEST_TIMEOUT_MS: String(ms),
    ...(check !== undefined ? { COMPANY_CHECK_TIMEOUT_MS: String(check) } : {}),
  },
});
const scope = (value: string): Case => ({
  name: `scope "${value}"`,
  cdk: { scopes: [value] },
  env: { QBO_SCOPES: value },
});

const CASES: Case[] = [
  ttl(59),
  ttl(60),
  ttl(900),
  ttl(3600),
  ttl(3601),
  tokenTimeout(999),
  tokenTimeout(1000),
  tokenTimeout(9000),
  tokenTimeout(9001),
  tokenTimeout(11_000),
  tokenTimeout(15_000),
  tokenTimeout(11_500, 500),
  tokenTimeout(8000, 5000),
  tokenTimeout(7000, 5000),
  tokenTimeout(8000, 499),
  tokenTimeout(8000, 5001),
  scope('com.intuit.quickbooks.accounting'),
  scope('openid'),
  scope('com.intuit/accounting'),
  scope('a"b'),
];

describe('the CDK configuration and the functions agree', () => {
  it.each(CASES)('on $name', ({ cdk, env }) => {
    expect(cdkAccepts(cdk)).toBe(functionsAccept(env));
  });

  it('and the cases include both answers', () => {
    const answers = new Set(CASES.map((c) => functionsAccept(c.env)));
    expect(answers).toEqual(new Set([true, false]));
  });
});
