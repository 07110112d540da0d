/**
 * `npm run set-credentials`: a scripted operator answers the prompts, Secrets Manager and
 * CloudFormation are aws-sdk-client-mock, and the probe goes to the project's Intuit emulator.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { awsPorts, createAwsClients } from '../../../bin/operator/aws-ports';
import { httpIntuitAccess } from '../../../bin/operator/intuit-access';
import type { Prompter } from '../../../bin/operator/set-credentials';
import { setCredentials } from '../../../bin/operator/set-credentials';
import { startIntuitEmulator } from '../../../local/intuit-emulator';
import type { IntuitEmulator } from '../../../local/intuit-emulator';

const clients = createAwsClients('eu-west-1');
const cloudFormation = mockClient(CloudFormationClient);
const secretsManager = mockClient(SecretsManagerClient);
const SECRET_NAME = 'IntuitClientCredentials1A2B-xYz9AbCdEf12';
const CALLBACK_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/callback';
const KEYS = { clientId: 'ABsetCredsClient01', clientSecret: 'set-creds-secret-0123456789abcdef' };

let emulator: IntuitEmulator;
beforeAll(async () => {
  emulator = await startIntuitEmulator({ clients: [{ ...KEYS, redirectUris: [CALLBACK_URL] }] });
});
afterAll(() => emulator.close());

beforeEach(() => {
  cloudFormation.reset();
  secretsManager.reset();
  const stack = (name: string, key: string, value: string) => ({
    Stacks: [
      {
        StackName: name,
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE' as const,
        Outputs: [{ OutputKey: key, OutputValue: value }],
      },
    ],
  });
  cloudFormation
    .on(DescribeStacksCommand, { StackName: 'QboConnector-dev-Stateful' })
    .resolves(stack('QboConnector-dev-Stateful', 'CredentialsSecretName', SECRET_NAME))
    .on(DescribeStacksCommand, { StackName: 'QboConnector-dev-Stateless' })
    .resolves(stack('QboConnector-dev-Stateless', 'CallbackUrl', CALLBACK_URL));
  cloudFormation.on(ListStackResourcesCommand).resolves({ StackResourceSummaries: [] });
  secretsManager.on(PutSecretValueCommand).resolves({});
});

/** Answers the prompts in order and remembers which were hidden. */
function scripted(answers: string[]): Prompter & { hidden: string[] } {
  const queue = [...answers];
  const hidden: string[] = [];
  const take = () => {
    const answer = queue.shift();
    if (answer === undefined) throw new Error('the tool asked more than the script answers');
    return Promise.resolve(answer);
  };
  return {
    hidden,
    ask: () => take(),
    askHidden: (question) => {
      hidden.push(question);
      return take();
    },
  };
}

async function run(
  answers: string[],
): Promise<{ code: number; said: string[]; prompt: ReturnType<typeof scripted> }> {
  const aws = awsPorts(clients);
  const said: string[] = [];
  const prompt = scripted(answers);
  const code = await setCredentials({
    envName: 'dev',
    qboEnvironment: 'sandbox',
    stacks: aws.stacks,
    secrets: aws.secrets,
    intuit: httpIntuitAccess(),
    prompt,
    say: (line) => said.push(line),
    tokenEndpoint: emulator.tokenEndpoint,
  });
  return { code, said, prompt };
}

function storedSecrets(): unknown[] {
  return secretsManager.commandCalls(PutSecretValueCommand).map((call) => ({
    SecretId: call.args[0].input.SecretId,
    value: JSON.parse(call.args[0].input.SecretString ?? 'null') as unknown,
  }));
}

it('trims what was pasted, stores it, never shows the secret, and the probe says Intuit accepts the keys', async () => {
  const { code, said, prompt } = await run([` ${KEYS.clientId}`, `${KEYS.clientSecret}\t`, '']);
  expect(code).toBe(0);
  expect(prompt.hidden).toEqual(['Client Secret (not shown): ']);
  expect(storedSecrets()).toEqual([{ SecretId: SECRET_NAME, value: { ...KEYS, environment: 'sandbox' } }]);
  expect(said).toContain('Removed whitespace around what was pasted.');
  expect(said.at(-1)).toMatch(/^Intuit accepts these keys: it answered invalid_grant to the made-up code/);
  expect(said.join('\n')).not.toContain(KEYS.clientSecret);
  expect(emulator.tokenRequests().at(-1)?.outcome).toMatch(/^invalid_grant/);
});

it('declining the probe sends nothing to Intuit and names the doctor command for later', async () => {
  const before = emulator.tokenRequests().length;
  const { code, said } = await run([KEYS.clientId, KEYS.clientSecret, 'n']);
  expect(code).toBe(0);
  expect(said.at(-1)).toBe('Skipped. Later: npm run doctor -- --env dev --probe');
  expect(emulator.tokenRequests()).toHaveLength(before);
});

it.each([
  [
    'a secret with a space inside',
    [KEYS.clientId, 'two words'],
    /the keys entered clientSecret contains whitespace/,
  ],
  ['the placeholder', ['REPLACE_ME', KEYS.clientSecret], /still holds the placeholder clientId/],
  ['an empty secret', [KEYS.clientId, '   '], /the keys entered has no clientSecret/],
])('%s: stores nothing and says why', async (_what, answers, why) => {
  const { code, said } = await run(answers);
  expect(code).toBe(1);
  expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  expect(said.at(-1)).toMatch(/^Nothing stored: /);
  expect(said.at(-1)).toMatch(why);
});

it('keys Intuit refuses: stored, but the probe reports invalid_client and the exit code is 1', async () => {
  const { code, said } = await run([KEYS.clientId, 'a-wrong-secret-value', 'y']);
  expect(code).toBe(1);
  expect(storedSecrets()).toHaveLength(1);
  expect(said.at(-1)).toMatch(
    /^Intuit answered invalid_client: these are not the app's Development keys, or they are mistyped/,
  );
  expect(said.join('\n')).not.toContain('a-wrong-secret-value');
});

it('no stateful stack: says to deploy first and asks nothing', async () => {
  cloudFormation.on(DescribeStacksCommand).rejects(
    Object.assign(new Error('Stack with id QboConnector-dev-Stateful does not exist'), {
      name: 'ValidationError',
    }),
  );
  const { code, said } = await run([]);
  expect(code).toBe(1);
  expect(said).toEqual([
    'QboConnector-dev-Stateful is not deployed here (or has no CredentialsSecretName output): npx cdk deploy --all --context env=dev',
  ]);
});
