/** `npm run trace --env`: the tables and log groups it reads, found among the stacks' resources. */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { awsPorts, createAwsClients } from '../../../bin/operator/aws-ports';
import { DeploymentMissingError, deployedTraceTargets } from '../../../bin/operator/trace';

const cloudFormation = mockClient(CloudFormationClient);
const stacks = awsPorts(createAwsClients('eu-west-1')).stacks;

function resource(LogicalResourceId: string, PhysicalResourceId: string, ResourceType: string) {
  return {
    LogicalResourceId,
    PhysicalResourceId,
    ResourceType,
    ResourceStatus: 'CREATE_COMPLETE' as const,
    LastUpdatedTimestamp: new Date(),
  };
}

beforeEach(() => {
  cloudFormation.reset();
  for (const StackName of ['QboConnector-prod-Stateful', 'QboConnector-prod-Stateless']) {
    cloudFormation
      .on(DescribeStacksCommand, { StackName })
      .resolves({ Stacks: [{ StackName, CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE' }] });
  }
  cloudFormation.on(ListStackResourcesCommand, { StackName: 'QboConnector-prod-Stateful' }).resolves({
    StackResourceSummaries: [
      resource('FlowTableDA964F7E', 'QboConnector-prod-Stateful-FlowTable-1', 'AWS::DynamoDB::Table'),
      resource('ConnectionTableKey5357463C', 'key-id', 'AWS::KMS::Key'),
      resource(
        'ConnectionTableA1008D27',
        'QboConnector-prod-Stateful-ConnectionTable-2',
        'AWS::DynamoDB::Table',
      ),
    ],
  });
  cloudFormation.on(ListStackResourcesCommand, { StackName: 'QboConnector-prod-Stateless' }).resolves({
    StackResourceSummaries: [
      resource('ApiAccessLogs50B185DB', 'access-logs', 'AWS::Logs::LogGroup'),
      resource('ConnectLogGroup211EE86F', 'connect-logs', 'AWS::Logs::LogGroup'),
      resource('CallbackLogGroup805C3E5A', 'callback-logs', 'AWS::Logs::LogGroup'),
      resource('CallbackFunction5F66062D', 'callback-fn', 'AWS::Lambda::Function'),
    ],
  });
});

it('finds both tables and the functions log groups, not the access log', async () => {
  expect(await deployedTraceTargets(stacks, 'prod')).toEqual({
    tables: {
      flow: 'QboConnector-prod-Stateful-FlowTable-1',
      connection: 'QboConnector-prod-Stateful-ConnectionTable-2',
    },
    logGroups: ['connect-logs', 'callback-logs'],
  });
});

it('a stack that is not deployed: says so', async () => {
  cloudFormation.on(DescribeStacksCommand, { StackName: 'QboConnector-prod-Stateless' }).rejects(
    Object.assign(new Error('Stack with id QboConnector-prod-Stateless does not exist'), {
      name: 'ValidationError',
    }),
  );
  const error: unknown = await deployedTraceTargets(stacks, 'prod').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DeploymentMissingError);
  expect((error as Error).message).toBe(
    'QboConnector-prod-Stateful or QboConnector-prod-Stateless is not deployed in this account and region',
  );
});
