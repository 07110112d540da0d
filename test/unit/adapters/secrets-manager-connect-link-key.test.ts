/** The connect-link key from Secrets Manager (I1): derived once per value, errors classified as for the credentials. */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  SecretsManagerConnectLinkKeySource,
  StaticConnectLinkKeySource,
} from '../../../lambdas/adapters/secrets-manager-connect-link-key';
import { deriveConnectLinkKeys } from '../../../lambdas/core/connect-links';
import { ConfigError, CredentialsUnavailableError } from '../../../lambdas/core/errors';

const secrets = mockClient(SecretsManagerClient);
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ConnectLinkKey-AbCdEf';
const GENERATED = 'Q7wErTy0uIoPaSdFgHjKlZxCvBnM1234567890qwertyuiopASDFGHJKLzxcvbn';

function source(): SecretsManagerConnectLinkKeySource {
  return new SecretsManagerConnectLinkKeySource({
    secretId: SECRET_ARN,
    client: new SecretsManagerClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    }),
  });
}

function awsError(name: string): Error {
  return Object.assign(new Error('the SDK message may quote the request'), { name });
}

beforeEach(() => secrets.reset());

describe('SecretsManagerConnectLinkKeySource', () => {
  it('derives the link and redirect keys from the generated secret, reading it once while cached', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: GENERATED });
    const keys = source();
    const first = await keys.get();
    const expected = deriveConnectLinkKeys(Buffer.from(GENERATED, 'utf8'));
    expect(first.link.equals(expected.link)).toBe(true);
    expect(first.redirect.equals(expected.redirect)).toBe(true);
    await keys.get();
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_ARN });
  });

  it('refuses a secret shorter than 32 characters as a configuration problem, without quoting it', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'short-secret' });
    const error: unknown = await source()
      .get()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as ConfigError).problems)).not.toContain('short-secret');
  });

  it('G5: AccessDenied is a configuration problem; throttling is "try again"', async () => {
    secrets.on(GetSecretValueCommand).rejectsOnce(awsError('AccessDeniedException'));
    await expect(source().get()).rejects.toBeInstanceOf(ConfigError);
    secrets.on(GetSecretValueCommand).rejectsOnce(awsError('ThrottlingException'));
    await expect(source().get()).rejects.toBeInstanceOf(CredentialsUnavailableError);
  });
});

describe('StaticConnectLinkKeySource', () => {
  it('derives the same keys from the same bytes (CONNECT_LINK_KEY locally)', async () => {
    const bytes = Buffer.from(GENERATED, 'utf8');
    const keys = await new StaticConnectLinkKeySource(bytes).get();
    expect(keys.link.equals(deriveConnectLinkKeys(bytes).link)).toBe(true);
  });
});
