/**
 * `npm run doctor -- --env <name>` against a deployed environment: AWS answers from
 * aws-sdk-client-mock, Intuit from the project's emulator (the probe) and a local discovery
 * document, so each check is seen to pass and to fail with its fix.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { awsPorts } from '../../../bin/operator/aws-ports';
import type { AwsClients } from '../../../bin/operator/aws-ports';
import { runDeployedDoctor } from '../../../bin/operator/doctor-checks';
import type { CheckResult, DoctorReport } from '../../../bin/operator/doctor-checks';
import { httpIntuitAccess } from '../../../bin/operator/intuit-access';
import { startIntuitEmulator } from '../../../local/intuit-emulator';
import type { IntuitEmulator } from '../../../local/intuit-emulator';

const REGION = { region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
const clients: AwsClients = {
  cloudFormation: new CloudFormationClient(REGION),
  lambda: new LambdaClient(REGION),
  secretsManager: new SecretsManagerClient(REGION),
  sns: new SNSClient(REGION),
  logs: new CloudWatchLogsClient(REGION),
};
const cloudFormation = mockClient(clients.cloudFormation);
const lambda = mockClient(clients.lambda);
const secretsManager = mockClient(clients.secretsManager);
const sns = mockClient(clients.sns);
const logs = mockClient(clients.logs);

const CALLBACK_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/callback';
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:IntuitClientCredentials1A2B-xYz9AbCdEf12-AbCdEf';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:QboConnector-dev-Alarms';
const KEYS = { clientId: 'ABdoctorClient0123', clientSecret: 'doctor-secret-value-0123456789' };
const LOG_GROUPS = [
  'QboConnector-dev-Stateless-ConnectLogGroup-1',
  'QboConnector-dev-Stateless-CallbackLogGroup-2',
];

let emulator: IntuitEmulator;
let discovery: Server;
let discoveryUrl: string;

beforeAll(async () => {
  emulator = await startIntuitEmulator({ clients: [{ ...KEYS, redirectUris: [CALLBACK_URL] }] });
  discovery = createServer((_req, res) =>
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token_endpoint: emulator.tokenEndpoint })),
  );
  await new Promise<void>((resolve) => discovery.listen(0, '127.0.0.1', resolve));
  discoveryUrl = `http://127.0.0.1:${(discovery.address() as AddressInfo).port}/.well-known/openid_sandbox_configuration/`;
});

afterAll(async () => {
  await emulator.close();
  await new Promise((resolve) => discovery.close(resolve));
});

/** A healthy dev environment; each test breaks one thing. */
beforeEach(() => {
  for (const mock of [cloudFormation, lambda, secretsManager, sns, logs]) mock.reset();
  cloudFormation.on(DescribeStacksCommand, { StackName: 'QboConnector-dev-Stateful' }).resolves({
    Stacks: [
      {
        StackName: 'QboConnector-dev-Stateful',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [
          { OutputKey: 'CredentialsSecretName', OutputValue: 'IntuitClientCredentials1A2B-xYz9AbCdEf12' },
        ],
      },
    ],
  });
  cloudFormation.on(DescribeStacksCommand, { StackName: 'QboConnector-dev-Stateless' }).resolves({
    Stacks: [
      {
        StackName: 'QboConnector-dev-Stateless',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: 'CallbackUrl', OutputValue: CALLBACK_URL },
          { OutputKey: 'ConnectUrl', OutputValue: CALLBACK_URL.replace('/callback', '/connect') },
          { OutputKey: 'AlarmTopicArn', OutputValue: TOPIC_ARN },
        ],
      },
    ],
  });
  cloudFormation
    .on(ListStackResourcesCommand, { StackName: 'QboConnector-dev-Stateful' })
    .resolves({ StackResourceSummaries: [] });
  // Two pages, as CloudFormation returns for a large stack.
  cloudFormation
    .on(ListStackResourcesCommand, { StackName: 'QboConnector-dev-Stateless' })
    .resolves({
      StackResourceSummaries: [
        resource('ConnectFunction', 'qbo-dev-connect', 'AWS::Lambda::Function'),
        resource('CallbackFunction', 'qbo-dev-callback', 'AWS::Lambda::Function'),
        resource('ConnectLogGroup', LOG_GROUPS[0] ?? '', 'AWS::Logs::LogGroup'),
      ],
      NextToken: 'page-2',
    })
    .on(ListStackResourcesCommand, { StackName: 'QboConnector-dev-Stateless', NextToken: 'page-2' })
    .resolves({
      StackResourceSummaries: [resource('CallbackLogGroup', LOG_GROUPS[1] ?? '', 'AWS::Logs::LogGroup')],
    });
  lambda.on(GetFunctionConfigurationCommand).resolves({ Environment: { Variables: functionEnvironment() } });
  secretsManager
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ ...KEYS, environment: 'sandbox' }) });
  sns.on(ListSubscriptionsByTopicCommand).resolves({
    Subscriptions: [{ Protocol: 'email', SubscriptionArn: `${TOPIC_ARN}:1234`, TopicArn: TOPIC_ARN }],
  });
  logs.on(DescribeLogGroupsCommand).callsFake((input: { logGroupNamePrefix?: string }) => ({
    logGroups: LOG_GROUPS.filter((name) => name === input.logGroupNamePrefix).map((logGroupName) => ({
      logGroupName,
    })),
  }));
});

function resource(logicalId: string, physicalId: string, type: string) {
  return {
    LogicalResourceId: logicalId,
    PhysicalResourceId: physicalId,
    ResourceType: type,
    ResourceStatus: 'CREATE_COMPLETE' as const,
    LastUpdatedTimestamp: new Date(),
  };
}

function functionEnvironment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    APP_ENV: 'dev',
    APP_NAME: 'QuickBooks Connector (dev)',
    QBO_ENVIRONMENT: 'sandbox',
    QBO_REDIRECT_URI: CALLBACK_URL,
    QBO_SCOPES: 'com.intuit.quickbooks.accounting',
    QBO_CREDENTIALS_SECRET_ID: SECRET_ARN,
    FLOW_TABLE_NAME: 'flows',
    CONNECTION_TABLE_NAME: 'connections',
    // The emulator stands in for Intuit's token endpoint (loopback http is accepted in sandbox only).
    QBO_TOKEN_ENDPOINT: emulator.tokenEndpoint,
    ...overrides,
  };
}

function doctor(options: { probe?: boolean; discoveryUrl?: string } = {}): Promise<DoctorReport> {
  const url = options.discoveryUrl ?? discoveryUrl;
  return runDeployedDoctor({
    envName: 'dev',
    qboEnvironment: 'sandbox',
    aws: awsPorts(clients),
    intuit: httpIntuitAccess({ discoveryUrls: { sandbox: url, production: url } }),
    probe: options.probe ?? true,
  });
}

function check(report: DoctorReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (found === undefined) throw new Error(`no check ${id}`);
  return found;
}

describe('a healthy environment', () => {
  it('passes every check, prints the URLs to register, and the probe reaches Intuit without spending anything', async () => {
    const report = await doctor();
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['stacks', 'pass'],
      ['configuration', 'pass'],
      ['secret', 'pass'],
      ['redirect-uri', 'pass'],
      ['intuit-discovery', 'pass'],
      ['probe', 'pass'],
      ['alarm-subscription', 'pass'],
      ['log-groups', 'pass'],
    ]);
    expect(report.failed).toBe(0);
    expect(check(report, 'redirect-uri').detail).toBe(
      `register at Intuit, byte for byte: Redirect URI ${CALLBACK_URL}; Launch/Connect URL ${CALLBACK_URL.replace('/callback', '/connect')}`,
    );
    expect(check(report, 'probe').detail).toMatch(/^Intuit answered invalid_grant to a made-up code/);
    expect(emulator.tokenRequests().at(-1)?.outcome).toMatch(/^invalid_grant/);
    expect(check(report, 'log-groups').detail).toBe('2 log groups exist');
    // Never a secret in what the doctor prints.
    expect(JSON.stringify(report)).not.toContain(KEYS.clientSecret);
  });

  it('without --probe sends no token request and says how to run it', async () => {
    const before = emulator.tokenRequests().length;
    const report = await doctor({ probe: false });
    expect(check(report, 'probe')).toMatchObject({
      status: 'skip',
      detail: 'run with --probe to send a token request with a made-up code',
    });
    expect(emulator.tokenRequests()).toHaveLength(before);
    expect(report.failed).toBe(0);
  });
});

describe('the secret', () => {
  it.each([
    [
      'the placeholder',
      { clientId: 'REPLACE_ME', clientSecret: 'REPLACE_ME', environment: 'sandbox' },
      /still holds the placeholder clientId/,
    ],
    [
      'stray whitespace',
      { ...KEYS, clientSecret: `${KEYS.clientSecret} `, environment: 'sandbox' },
      /clientSecret has leading or trailing whitespace/,
    ],
    [
      'keys of the other environment',
      { ...KEYS, environment: 'production' },
      /has environment=production but this deployment expects sandbox/,
    ],
  ])(
    "%s: fails with the functions' message and the set-credentials fix; the probe is not sent",
    async (_what, value, message) => {
      secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(value) });
      const report = await doctor();
      expect(check(report, 'secret')).toMatchObject({
        status: 'fail',
        fix: 'npm run set-credentials -- --env dev',
      });
      expect(check(report, 'secret').detail).toMatch(message);
      expect(check(report, 'secret').detail).toContain('secret IntuitClientCredentials1A2B-xYz9AbCdEf12');
      expect(check(report, 'probe').status).toBe('skip');
      expect(JSON.stringify(report)).not.toContain(KEYS.clientSecret);
    },
  );

  it('that does not exist fails', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    expect(check(await doctor(), 'secret')).toMatchObject({
      status: 'fail',
      detail: 'secret IntuitClientCredentials1A2B-xYz9AbCdEf12 does not exist',
    });
  });

  it('that Intuit refuses: the probe comes back invalid_client and says the keys are wrong', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ ...KEYS, clientSecret: 'not-the-secret', environment: 'sandbox' }),
    });
    const report = await doctor();
    expect(check(report, 'secret').status).toBe('pass');
    expect(check(report, 'probe')).toMatchObject({
      status: 'fail',
      fix: 'npm run set-credentials -- --env dev',
    });
    expect(check(report, 'probe').detail).toMatch(
      /^Intuit answered invalid_client: the client id or secret is wrong, or not the app's sandbox keys/,
    );
  });
});

describe('the configuration', () => {
  it('is validated as the functions validate it', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves({
      Environment: { Variables: functionEnvironment({ QBO_REDIRECT_URI: 'http://203.0.113.7/callback' }) },
    });
    const report = await doctor();
    expect(check(report, 'configuration')).toMatchObject({
      status: 'fail',
      fix: 'fix lib/config/environments.ts (dev) and redeploy',
    });
    expect(check(report, 'configuration').detail).toContain(
      'QBO_REDIRECT_URI must use https (http is allowed only for localhost)',
    );
    expect(check(report, 'configuration').detail).toContain(
      'QBO_REDIRECT_URI must use a host name: Intuit refuses IP addresses',
    );
    expect(check(report, 'redirect-uri').status).toBe('skip');
  });

  it('the redirect URI must equal the deployed CallbackUrl', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves({
      Environment: {
        Variables: functionEnvironment({ QBO_REDIRECT_URI: 'https://old.example.com/callback' }),
      },
    });
    const result = check(await doctor(), 'redirect-uri');
    expect(result).toMatchObject({
      status: 'fail',
      detail: `the functions use https://old.example.com/callback but the CallbackUrl output is ${CALLBACK_URL}`,
    });
    expect(result.fix).toBe(
      'redeploy the stateless stack: npx cdk deploy QboConnector-dev-Stateless --context env=dev',
    );
  });
});

describe('the stacks', () => {
  it('not deployed: fails with the deploy command and skips what depends on them', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Stack with id QboConnector-dev-Stateless does not exist'), {
        name: 'ValidationError',
      }),
    );
    const report = await doctor();
    expect(check(report, 'stacks')).toMatchObject({ status: 'fail' });
    expect(check(report, 'stacks').fix).toMatch(/^deploy: npx cdk deploy --all --context env=dev/);
    for (const id of ['configuration', 'secret', 'redirect-uri', 'alarm-subscription', 'log-groups'])
      expect(check(report, id).status).toBe('skip');
  });

  it('an AWS permission missing: says which permission document to read, without a stack trace', async () => {
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' }));
    expect(check(await doctor(), 'stacks')).toEqual({
      id: 'stacks',
      title: 'Stacks deployed',
      status: 'fail',
      detail: 'could not check (AccessDenied)',
      fix: "the operator's AWS identity lacks a read permission: see docs/deploy.md, Operator permissions",
    });
  });
});

describe('alarms and logs', () => {
  it('nobody subscribed: fails with the subscribe command', async () => {
    sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [] });
    expect(check(await doctor(), 'alarm-subscription')).toMatchObject({
      status: 'fail',
      detail: 'nobody is subscribed: alarms reach no one',
      fix: `aws sns subscribe --topic-arn ${TOPIC_ARN} --protocol email --notification-endpoint <on-call address>`,
    });
  });

  it('only an unconfirmed email: fails until it is confirmed', async () => {
    sns
      .on(ListSubscriptionsByTopicCommand)
      .resolves({ Subscriptions: [{ Protocol: 'email', SubscriptionArn: 'PendingConfirmation' }] });
    expect(check(await doctor(), 'alarm-subscription')).toMatchObject({
      status: 'fail',
      fix: 'accept the confirmation email AWS sent',
    });
  });

  it('a log group missing: names it', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    expect(check(await doctor(), 'log-groups')).toMatchObject({
      status: 'fail',
      detail: `missing: ${LOG_GROUPS.join(', ')}`,
    });
  });
});

describe("Intuit's discovery document", () => {
  it('offline: skipped with a note, not failed', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
    await new Promise((resolve) => closed.close(resolve));
    const report = await doctor({ discoveryUrl: url, probe: false });
    expect(check(report, 'intuit-discovery')).toMatchObject({
      status: 'skip',
      detail: "offline: Intuit's discovery document did not answer (ECONNREFUSED)",
    });
    expect(report.failed).toBe(0);
  });
});
