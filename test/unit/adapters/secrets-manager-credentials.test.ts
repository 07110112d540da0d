import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  SecretsManagerCredentialsSource,
  StaticCredentialsSource,
} from '../../../lambdas/adapters/secrets-manager-credentials';
import type { SecretsManagerCredentialsOptions } from '../../../lambdas/adapters/secrets-manager-credentials';
import { ConfigError, CredentialsUnavailableError } from '../../../lambdas/core/errors';

const secrets = mockClient(SecretsManagerClient);

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:quickbooks/prod-AbCdEf';
const CLIENT_SECRET = 'canary-client-secret-Q7';
const VALID = { clientId: 'ABprodClientId01', clientSecret: CLIENT_SECRET, environment: 'production' };

function source(options: Partial<SecretsManagerCredentialsOptions> = {}): SecretsManagerCredentialsSource {
  return new SecretsManagerCredentialsSource({
    secretId: SECRET_ARN,
    expectedEnvironment: 'production',
    client: new SecretsManagerClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    }),
    ...options,
  });
}

async function configErrorOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error: unknown = await promise.catch((e: unknown) => e);
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error;
}

beforeEach(() => {
  secrets.reset();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('SecretsManagerCredentialsSource', () => {
  describe('given a valid secret (F3)', () => {
    it('returns the credentials', async () => {
      secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(VALID) });
      await expect(source().get()).resolves.toEqual(VALID);
      expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_ARN });
    });

    it('fetches once across several calls (cached across warm invocations)', async () => {
      secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(VALID) });
      const credentials = source();
      for (let i = 0; i < 5; i++) await credentials.get();
      await Promise.all([credentials.get(), credentials.get()]);
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    });

    it('fetches again once the cached value is older than maxAgeSeconds', async () => {
      jest.useFakeTimers({
        now: Date.UTC(2025, 0, 15, 12, 0, 0),
        doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'],
      });
      secrets
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: JSON.stringify({ ...VALID, clientId: 'ABoldClientId' }) })
        .resolves({ SecretString: JSON.stringify(VALID) });
      const credentials = source({ maxAgeSeconds: 5 });

      expect((await credentials.get()).clientId).toBe('ABoldClientId');
      jest.setSystemTime(Date.UTC(2025, 0, 15, 12, 0, 4));
      expect((await credentials.get()).clientId).toBe('ABoldClientId');
      jest.setSystemTime(Date.UTC(2025, 0, 15, 12, 0, 6));
      expect((await credentials.get()).clientId).toBe('ABprodClientId01');

      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });

    it('caches for 300 seconds by default', async () => {
      jest.useFakeTimers({
        now: Date.UTC(2025, 0, 15, 12, 0, 0),
        doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'],
      });
      secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(VALID) });
      const credentials = source();
      await credentials.get();
      jest.setSystemTime(Date.UTC(2025, 0, 15, 12, 4, 59));
      await credentials.get();
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
      jest.setSystemTime(Date.UTC(2025, 0, 15, 12, 5, 1));
      await credentials.get();
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });
  });

  describe('given a secret that is not usable yet (G5)', () => {
    it('G5: refuses the placeholder CDK wrote, naming the secret', async () => {
      secrets.on(GetSecretValueCommand).resolves({
        SecretString: JSON.stringify({
          clientId: 'REPLACE_ME',
          clientSecret: 'REPLACE_ME',
          environment: 'production',
        }),
      });
      const error = await configErrorOf(source().get());
      expect(error.problems).toEqual([
        expect.stringContaining('secret quickbooks/prod still holds the placeholder clientId'),
        expect.stringContaining('secret quickbooks/prod still holds the placeholder clientSecret'),
      ]);
    });

    it('G5: refuses a secret for the other environment, naming the secret and both environments', async () => {
      secrets
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ ...VALID, environment: 'sandbox' }) });
      const error = await configErrorOf(source().get());
      expect(error.message).toContain(
        'secret quickbooks/prod has environment=sandbox but this deployment expects production',
      );
      expect(error.message).not.toContain(CLIENT_SECRET);
    });

    it('names a secret given by name as it is', async () => {
      secrets
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ ...VALID, environment: 'sandbox' }) });
      const error = await configErrorOf(source({ secretId: 'quickbooks/prod' }).get());
      expect(error.message).toContain('secret quickbooks/prod has environment=sandbox');
    });

    it('G5: refuses a secret that is not JSON, without quoting it', async () => {
      secrets.on(GetSecretValueCommand).resolves({ SecretString: `clientSecret=${CLIENT_SECRET}` });
      const error = await configErrorOf(source().get());
      expect(error.problems).toEqual(['secret quickbooks/prod is not valid JSON']);
      expect(JSON.stringify(error)).not.toContain(CLIENT_SECRET);
    });

    it('G5: refuses a JSON secret that is not an object', async () => {
      secrets.on(GetSecretValueCommand).resolves({ SecretString: '"just a string"' });
      const error = await configErrorOf(source().get());
      expect(error.message).toContain('must be a JSON object');
    });

    it('re-reads a fixed secret only after the cache expires, then accepts it', async () => {
      jest.useFakeTimers({
        now: Date.UTC(2025, 0, 15, 12, 0, 0),
        doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'],
      });
      secrets
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: JSON.stringify({ ...VALID, clientSecret: 'REPLACE_ME' }) })
        .resolves({ SecretString: JSON.stringify(VALID) });
      const credentials = source({ maxAgeSeconds: 60 });
      await expect(credentials.get()).rejects.toBeInstanceOf(ConfigError);
      jest.setSystemTime(Date.UTC(2025, 0, 15, 12, 1, 1));
      await expect(credentials.get()).resolves.toEqual(VALID);
    });
  });

  describe('given Secrets Manager refuses or fails (G5, F2)', () => {
    it('G5: turns AccessDenied into a ConfigError that points at the IAM policy', async () => {
      secrets.on(GetSecretValueCommand).rejects(
        Object.assign(
          new Error(`User arn:aws:sts::123:assumed-role/cb is not authorized; token ${CLIENT_SECRET}`),
          {
            name: 'AccessDeniedException',
          },
        ),
      );
      const error = await configErrorOf(source().get());
      expect(error.message).toMatch(/secret quickbooks\/prod could not be read .*IAM policy/);
      expect(error.message).not.toContain(CLIENT_SECRET);
      expect(JSON.stringify(error)).not.toContain(CLIENT_SECRET);
    });

    it('says which AWS error it was (AccessDeniedException), not the name of the library wrapper', async () => {
      secrets
        .on(GetSecretValueCommand)
        .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
      const error = await configErrorOf(source().get());
      expect(error.message).toContain('(AccessDeniedException)');
    });

    it.each(['TimeoutError', 'ThrottlingException', 'InternalServiceError', 'ECONNRESET'])(
      'G5: an unreachable or throttled Secrets Manager (%s) is CredentialsUnavailableError ("try again"), not a ConfigError',
      async (name) => {
        secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('connect ETIMEDOUT x'), { name }));
        const error: unknown = await source()
          .get()
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toBeInstanceOf(CredentialsUnavailableError);
        expect(error).not.toBeInstanceOf(ConfigError);
        expect(error).toMatchObject({ awsErrorName: name, code: 'SECRETS_UNAVAILABLE' });
        expect(JSON.stringify(error)).not.toContain('ETIMEDOUT x');
      },
    );

    it('does not cache a failed read', async () => {
      secrets
        .on(GetSecretValueCommand)
        .rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }))
        .resolves({ SecretString: JSON.stringify(VALID) });
      const credentials = source();
      await expect(credentials.get()).rejects.toBeInstanceOf(CredentialsUnavailableError);
      await expect(credentials.get()).resolves.toEqual(VALID);
    });
  });

  describe('given Intuit answered invalid_client and the caller invalidates (keys rotated at Intuit)', () => {
    it('reads the secret afresh on the next get instead of waiting out the cache', async () => {
      const rotated = { ...VALID, clientSecret: 'rotated-secret-value-2' };
      secrets
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: JSON.stringify(VALID) })
        .resolves({ SecretString: JSON.stringify(rotated) });
      const credentials = source();
      await expect(credentials.get()).resolves.toEqual(VALID);
      // Cached: no second read.
      await expect(credentials.get()).resolves.toEqual(VALID);
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);

      credentials.invalidate();
      await expect(credentials.get()).resolves.toEqual(rotated);
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
      // Cached again afterwards.
      await expect(credentials.get()).resolves.toEqual(rotated);
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });
  });
});

describe('StaticCredentialsSource (local server)', () => {
  it('validates through the same rules', async () => {
    const placeholder = new StaticCredentialsSource(
      { clientId: 'REPLACE_ME', clientSecret: 'x', environment: 'sandbox' },
      'sandbox',
      'environment variables QBO_CLIENT_*',
    );
    await expect(placeholder.get()).rejects.toThrow(
      /environment variables QBO_CLIENT_\* still holds the placeholder clientId/,
    );
    const valid = new StaticCredentialsSource(
      { clientId: 'AB', clientSecret: 'x', environment: 'sandbox' },
      'sandbox',
      'env',
    );
    await expect(valid.get()).resolves.toEqual({ clientId: 'AB', clientSecret: 'x', environment: 'sandbox' });
  });
});
