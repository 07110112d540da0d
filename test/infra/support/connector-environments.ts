import { ENVIRONMENTS, type EnvironmentConfig } from '../../../lib/config/environments';
import { synthesizeConnector, type SynthesizedConnector } from './connector-app';

/** The custom domain STAGING serves the connector on. */
export const CUSTOM_DOMAIN = 'connect.example.com';

/**
 * A third environment that exercises every optional setting: custom domain, alarm email, app
 * return URL, and a pinned account and region.
 */
export const STAGING: EnvironmentConfig = {
  ...ENVIRONMENTS.prod,
  account: '123456789012',
  region: 'eu-west-1',
  customDomain: {
    domainName: CUSTOM_DOMAIN,
    certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0f6b2c1e-1111-2222-3333-444455556666',
  },
  alarmEmail: 'oncall@example.com',
  appReturnUrl: 'https://app.example.com/settings/quickbooks',
  appSuccessUrl: 'https://app.example.com/quickbooks/connected',
  appFailureUrl: 'https://app.example.com/quickbooks/problem',
};

/** dev and prod as the repository ships them, and STAGING with every optional setting. */
export interface ConnectorEnvironments {
  readonly dev: SynthesizedConnector;
  readonly prod: SynthesizedConnector;
  readonly staging: SynthesizedConnector;
}

/** Three synths with esbuild bundling: seconds each, more on a busy machine. */
export const SYNTHESIS_TIMEOUT_MS = 180_000;

let synthesized: ConnectorEnvironments | undefined;

/**
 * Synthesizes dev, prod and staging on the first call and returns the same ones afterwards. Jest
 * gives every spec file its own module registry, so each file pays for the three synths once: call
 * this in `beforeAll` with {@link SYNTHESIS_TIMEOUT_MS}.
 */
export function synthesizeConnectorEnvironments(): ConnectorEnvironments {
  synthesized ??= {
    dev: synthesizeConnector('dev'),
    prod: synthesizeConnector('prod'),
    staging: synthesizeConnector('staging', { ...ENVIRONMENTS, staging: STAGING }),
  };
  return synthesized;
}

/** Every synthesized environment with its name, for specs that must hold in all of them. */
export function connectors(): [string, SynthesizedConnector][] {
  const { dev, prod, staging } = synthesizeConnectorEnvironments();
  return [
    ['dev', dev],
    ['prod', prod],
    ['staging', staging],
  ];
}
