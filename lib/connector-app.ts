import { Validations, type App, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ENVIRONMENTS, resolveEnvironment, type EnvironmentConfig } from './config/environments';
import { StatefulStack } from './stateful-stack';
import { StatelessStack } from './stateless-stack';

export interface ConnectorStacks {
  readonly envName: string;
  readonly config: EnvironmentConfig;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/** Per-deploy choices that are not part of an environment's configuration. */
export interface ConnectorStackOptions {
  /**
   * How many of the connections table's indexes to build (`--context connectionIndexes=<n>`), for
   * upgrading an environment deployed before them one index per deploy (docs/deploy.md).
   * @default - all of them
   */
  readonly connectionIndexLimit?: number;
}

/**
 * Builds one environment of the connector into `app`: its stateful and stateless stacks, checked by
 * cdk-nag's AwsSolutions and Serverless packs at synthesis (any unacknowledged finding fails it).
 *
 * @param envName the value of `--context env=<name>`
 * @param environments the configurations to choose from (tests pass their own)
 * @param options per-deploy choices (`--context` values other than the environment's name)
 * @throws EnvironmentConfigError listing the valid names when `envName` is missing or unknown
 */
export function addConnectorStacks(
  app: App,
  envName: unknown,
  environments: Readonly<Record<string, EnvironmentConfig>> = ENVIRONMENTS,
  options: ConnectorStackOptions = {},
): ConnectorStacks {
  const resolved = resolveEnvironment(envName, environments);
  const { config } = resolved;
  const env: Environment = {
    ...(config.account === undefined ? {} : { account: config.account }),
    ...(config.region === undefined ? {} : { region: config.region }),
  };
  const prefix = `QboConnector-${resolved.envName}`;
  const tags = { Project: 'qbo-connector', Environment: resolved.envName };

  const stateful = new StatefulStack(app, `${prefix}-Stateful`, {
    env,
    tags,
    description: `QuickBooks Online OAuth connector (${resolved.envName}): tables, keys and the credentials secret`,
    // A stack that holds tokens in production cannot be deleted by accident either.
    terminationProtection: config.dataProtection.deletionProtection,
    envName: resolved.envName,
    config,
    ...(options.connectionIndexLimit === undefined
      ? {}
      : { connectionIndexLimit: options.connectionIndexLimit }),
  });
  const stateless = new StatelessStack(app, `${prefix}-Stateless`, {
    env,
    tags,
    description: `QuickBooks Online OAuth connector (${resolved.envName}): functions, HTTP API, alarms`,
    envName: resolved.envName,
    config,
    flowTable: stateful.flowTable,
    connectionTable: stateful.connectionTable,
    connectionTableKey: stateful.connectionTableKey,
    tokenKey: stateful.tokenKey,
    credentialsSecret: stateful.credentialsSecret,
    eventBus: stateful.eventBus,
    connectLinkKeySecret: stateful.connectLinkKeySecret,
    ...(stateful.webhookSecret === undefined ? {} : { webhookSecret: stateful.webhookSecret }),
  });

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { ...resolved, stateful, stateless };
}
