/**
 * The AWS calls the operator tools make (doctor, set-credentials), each behind a small port so the
 * checks can be tested with aws-sdk-client-mock and read without SDK noise. The operator's own AWS
 * credentials and region (the SDK's default chain: AWS_PROFILE, AWS_REGION, ...) are used.
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import type { StackResourceSummary } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';

/** One deployed CloudFormation stack: its outputs and the physical ids of its resources. */
export interface DeployedStack {
  readonly name: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly resources: ReadonlyArray<{
    readonly logicalId: string;
    readonly physicalId: string;
    readonly type: string;
  }>;
}

export interface StackDirectory {
  /** Resolves undefined when the stack does not exist (not deployed in this account and region). */
  describe(stackName: string): Promise<DeployedStack | undefined>;
}

export interface FunctionSettings {
  /** The environment variables a deployed function runs with. */
  environment(functionName: string): Promise<Readonly<Record<string, string>>>;
}

export interface SecretStore {
  /** The secret's current string value, or undefined when there is no such secret. */
  read(secretId: string): Promise<string | undefined>;
  /** Stores a new current version of the secret. */
  write(secretId: string, value: string): Promise<void>;
}

export interface TopicSubscriptions {
  /** The subscriptions of an SNS topic; `confirmed` is false while AWS waits for the email link. */
  list(topicArn: string): Promise<ReadonlyArray<{ readonly protocol: string; readonly confirmed: boolean }>>;
}

export interface LogGroupDirectory {
  exists(logGroupName: string): Promise<boolean>;
}

export interface LogsInsights {
  /**
   * Runs one Logs Insights query over the given log groups and time range (epoch ms) and resolves
   * its rows, each a map of field name to value. Rejects when the query does not finish in time.
   */
  query(
    logGroupNames: readonly string[],
    queryString: string,
    startMs: number,
    endMs: number,
  ): Promise<Array<Record<string, string>>>;
}

/** Everything the deployed-environment checks need from AWS. */
export interface AwsPorts {
  readonly stacks: StackDirectory;
  readonly functions: FunctionSettings;
  readonly secrets: SecretStore;
  readonly topics: TopicSubscriptions;
  readonly logGroups: LogGroupDirectory;
  readonly insights: LogsInsights;
}

/** SDK clients for the ports; tests pass clients whose send is mocked. */
export interface AwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly lambda: LambdaClient;
  readonly secretsManager: SecretsManagerClient;
  readonly sns: SNSClient;
  readonly logs: CloudWatchLogsClient;
}

export function createAwsClients(region: string | undefined): AwsClients {
  const config = region !== undefined ? { region } : {};
  return {
    cloudFormation: new CloudFormationClient(config),
    lambda: new LambdaClient(config),
    secretsManager: new SecretsManagerClient(config),
    sns: new SNSClient(config),
    logs: new CloudWatchLogsClient(config),
  };
}

/** How often and how long a Logs Insights query is polled. */
export interface PollSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export function awsPorts(
  clients: AwsClients,
  poll: PollSettings = { intervalMs: 1000, timeoutMs: 60_000 },
): AwsPorts {
  const sleep = poll.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return {
    stacks: {
      async describe(stackName) {
        let outputs: Record<string, string>;
        try {
          const described = await clients.cloudFormation.send(
            new DescribeStacksCommand({ StackName: stackName }),
          );
          const stack = described.Stacks?.[0];
          if (stack === undefined) return undefined;
          outputs = Object.fromEntries(
            (stack.Outputs ?? []).flatMap((o) =>
              o.OutputKey !== undefined && o.OutputValue !== undefined ? [[o.OutputKey, o.OutputValue]] : [],
            ),
          );
        } catch (error) {
          // CloudFormation says "Stack with id X does not exist" as a ValidationError.
          if (
            error instanceof Error &&
            error.name === 'ValidationError' &&
            /does not exist/.test(error.message)
          )
            return undefined;
          throw error;
        }
        const resources: StackResourceSummary[] = [];
        let nextToken: string | undefined;
        do {
          const page = await clients.cloudFormation.send(
            new ListStackResourcesCommand({
              StackName: stackName,
              ...(nextToken !== undefined ? { NextToken: nextToken } : {}),
            }),
          );
          resources.push(...(page.StackResourceSummaries ?? []));
          nextToken = page.NextToken;
        } while (nextToken !== undefined);
        return {
          name: stackName,
          outputs,
          resources: resources.map((r) => ({
            logicalId: r.LogicalResourceId ?? '',
            physicalId: r.PhysicalResourceId ?? '',
            type: r.ResourceType ?? '',
          })),
        };
      },
    },
    functions: {
      async environment(functionName) {
        const out = await clients.lambda.send(
          new GetFunctionConfigurationCommand({ FunctionName: functionName }),
        );
        return out.Environment?.Variables ?? {};
      },
    },
    secrets: {
      async read(secretId) {
        try {
          const out = await clients.secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }));
          return out.SecretString;
        } catch (error) {
          if (error instanceof ResourceNotFoundException) return undefined;
          throw error;
        }
      },
      async write(secretId, value) {
        await clients.secretsManager.send(
          new PutSecretValueCommand({ SecretId: secretId, SecretString: value }),
        );
      },
    },
    topics: {
      async list(topicArn) {
        const subscriptions: Array<{ protocol: string; confirmed: boolean }> = [];
        let nextToken: string | undefined;
        do {
          const page = await clients.sns.send(
            new ListSubscriptionsByTopicCommand({
              TopicArn: topicArn,
              ...(nextToken !== undefined ? { NextToken: nextToken } : {}),
            }),
          );
          for (const s of page.Subscriptions ?? []) {
            subscriptions.push({
              protocol: s.Protocol ?? 'unknown',
              // SNS lists an unconfirmed subscription with this literal instead of an ARN.
              confirmed: s.SubscriptionArn !== undefined && s.SubscriptionArn.startsWith('arn:'),
            });
          }
          nextToken = page.NextToken;
        } while (nextToken !== undefined);
        return subscriptions;
      },
    },
    logGroups: {
      async exists(logGroupName) {
        const out = await clients.logs.send(
          new DescribeLogGroupsCommand({ logGroupNamePrefix: logGroupName, limit: 5 }),
        );
        return (out.logGroups ?? []).some((group) => group.logGroupName === logGroupName);
      },
    },
    insights: {
      async query(logGroupNames, queryString, startMs, endMs) {
        const started = await clients.logs.send(
          new StartQueryCommand({
            logGroupNames: [...logGroupNames],
            queryString,
            startTime: Math.floor(startMs / 1000),
            endTime: Math.ceil(endMs / 1000),
          }),
        );
        const queryId = started.queryId;
        if (queryId === undefined) throw new Error('Logs Insights returned no query id');
        for (let waited = 0; waited <= poll.timeoutMs; waited += poll.intervalMs) {
          const out = await clients.logs.send(new GetQueryResultsCommand({ queryId }));
          if (out.status === 'Complete') {
            return (out.results ?? []).map((row) =>
              Object.fromEntries(
                row.flatMap((cell) =>
                  cell.field !== undefined && cell.value !== undefined && cell.field !== '@ptr'
                    ? [[cell.field, cell.value]]
                    : [],
                ),
              ),
            );
          }
          if (out.status === 'Failed' || out.status === 'Cancelled' || out.status === 'Timeout') {
            throw new Error(`Logs Insights query ${out.status}`);
          }
          await sleep(poll.intervalMs);
        }
        throw new Error(`Logs Insights query did not finish within ${poll.timeoutMs / 1000} s`);
      },
    },
  };
}

/** The stack names of one environment, as lib/connector-app.ts builds them. */
export function stackNames(envName: string): { readonly stateful: string; readonly stateless: string } {
  return { stateful: `QboConnector-${envName}-Stateful`, stateless: `QboConnector-${envName}-Stateless` };
}

/** An AWS error reduced to what may be printed: its name (an SDK message can quote a request). */
export function awsErrorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}
