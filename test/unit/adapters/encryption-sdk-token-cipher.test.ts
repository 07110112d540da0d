import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import {
  createKmsClient,
  DATA_KEY_MAX_AGE_MS,
  DATA_KEY_MAX_MESSAGES,
  EncryptionSdkTokenCipher,
  kmsTokenCipher,
  kmsTokenEncrypter,
  localTokenCipher,
  TOKEN_PURPOSE,
} from '../../../lambdas/adapters/encryption-sdk-token-cipher';
import type { TokenCipher, TokenSecrets } from '../../../lambdas/core/token-cipher';
import { CipherUnavailableError, TokenDecryptionError } from '../../../lambdas/core/token-cipher';
import type { LocalKms } from '../../../local/local-kms';
import { createLocalKms } from '../../../local/local-kms';

const REALM = '9130357766012345';
const OTHER_REALM = '9130357766054321';
const SECRETS: TokenSecrets = {
  accessToken: 'canary-access-token-eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0',
  refreshToken: 'canary-refresh-token-RT1-215-H0-1780000000abcdef',
};
const NO_CALLS = { GenerateDataKey: 0, Encrypt: 0, Decrypt: 0 };

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Every way an error can end up in a log line: none may show a token or the raw SDK error. */
function everyRendering(error: unknown): string {
  return [String(error), JSON.stringify(error), inspect(error, { depth: 5, showHidden: true })].join('\n');
}

function expectNoTokenIn(text: string): void {
  for (const token of [SECRETS.accessToken, SECRETS.refreshToken]) {
    expect(text).not.toContain(token);
    expect(text).not.toContain(Buffer.from(token).toString('base64'));
  }
}

describe('EncryptionSdkTokenCipher with the raw AES keyring (npm start)', () => {
  const key = randomBytes(32);

  it('H3: decrypts what it encrypted for the same company', async () => {
    const cipher = localTokenCipher({ key, environment: 'local' });
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    await expect(cipher.decrypt(REALM, ciphertext)).resolves.toEqual(SECRETS);
  });

  it('H3: a ciphertext moved onto another company does not decrypt', async () => {
    const cipher = localTokenCipher({ key, environment: 'local' });
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    const error = await failureOf(cipher.decrypt(OTHER_REALM, ciphertext));
    expect(error).toBeInstanceOf(TokenDecryptionError);
    expect(error).toMatchObject({ realmId: OTHER_REALM });
  });

  it('a ciphertext of another deployment does not decrypt, even under the same key', async () => {
    const ciphertext = await localTokenCipher({ key, environment: 'dev' }).encrypt(REALM, SECRETS);
    const prod = localTokenCipher({ key, environment: 'prod' });
    await expect(prod.decrypt(REALM, ciphertext)).rejects.toBeInstanceOf(TokenDecryptionError);
  });

  it('a ciphertext wrapped by another local key does not decrypt', async () => {
    const ciphertext = await localTokenCipher({ key }).encrypt(REALM, SECRETS);
    const otherKey = localTokenCipher({ key: randomBytes(32) });
    await expect(otherKey.decrypt(REALM, ciphertext)).rejects.toBeInstanceOf(TokenDecryptionError);
  });

  it('two encryptions of the same pair differ (a fresh IV per message)', async () => {
    const cipher = localTokenCipher({ key });
    const first = await cipher.encrypt(REALM, SECRETS);
    const second = await cipher.encrypt(REALM, SECRETS);
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
  });

  it('refuses a local key that is not 256 bits', () => {
    expect(() => localTokenCipher({ key: randomBytes(16) })).toThrow(RangeError);
  });

  it('bytes that are not an Encryption SDK message are a TokenDecryptionError', async () => {
    const cipher = localTokenCipher({ key });
    await expect(cipher.decrypt(REALM, new Uint8Array(0))).rejects.toBeInstanceOf(TokenDecryptionError);
    await expect(cipher.decrypt(REALM, Buffer.from('{"accessToken":"x"}'))).rejects.toBeInstanceOf(
      TokenDecryptionError,
    );
  });
});

describe('EncryptionSdkTokenCipher with a KMS keyring (local KMS stand-in)', () => {
  let kms: LocalKms;
  let cipher: TokenCipher;

  beforeEach(() => {
    kms = createLocalKms();
    cipher = kmsTokenCipher({ keyArn: kms.keyArn, environment: 'dev', kmsClient: kms.client });
  });

  it('H3: decrypts what it encrypted, with one GenerateDataKey and one Decrypt', async () => {
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    await expect(cipher.decrypt(REALM, ciphertext)).resolves.toEqual(SECRETS);
    expect(kms.counts()).toEqual({ GenerateDataKey: 1, Encrypt: 0, Decrypt: 1 });
  });

  it('H3: the ciphertext holds neither token, in plain text, base64 or hex', async () => {
    const ciphertext = Buffer.from(await cipher.encrypt(REALM, SECRETS));
    const views = [ciphertext.toString('latin1'), ciphertext.toString('base64'), ciphertext.toString('hex')];
    for (const view of views) {
      for (const token of [SECRETS.accessToken, SECRETS.refreshToken]) {
        expect(view).not.toContain(token);
        expect(view).not.toContain(token.slice(0, 16));
        expect(view).not.toContain(Buffer.from(token).toString('base64').slice(0, 16));
      }
    }
  });

  it('H3: binds purpose, realmId and environment in clear context, which KMS receives too', async () => {
    const ciphertext = Buffer.from(await cipher.encrypt(REALM, SECRETS)).toString('latin1');
    expect(ciphertext).toContain(TOKEN_PURPOSE);
    expect(ciphertext).toContain(REALM);
    expect(ciphertext).toContain('dev');
  });

  it('H3: a ciphertext moved onto another company does not decrypt', async () => {
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    const reader = kmsTokenCipher({ keyArn: kms.keyArn, environment: 'dev', kmsClient: kms.client });
    await expect(reader.decrypt(OTHER_REALM, ciphertext)).rejects.toBeInstanceOf(TokenDecryptionError);
  });

  it('H3: a ciphertext of another deployment does not decrypt under the same key', async () => {
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    const prod = kmsTokenCipher({ keyArn: kms.keyArn, environment: 'prod', kmsClient: kms.client });
    await expect(prod.decrypt(REALM, ciphertext)).rejects.toBeInstanceOf(TokenDecryptionError);
  });

  it('H3: any single altered byte, header, data key or body, is a TokenDecryptionError', async () => {
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    const outcomes = new Set<string>();
    for (let index = 0; index < ciphertext.length; index += 1) {
      const tampered = Uint8Array.from(ciphertext);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      const outcome = await cipher.decrypt(REALM, tampered).then(
        () => `byte ${index}: decrypted`,
        (error: unknown) => (error instanceof TokenDecryptionError ? 'TokenDecryptionError' : String(error)),
      );
      outcomes.add(outcome);
    }
    expect([...outcomes]).toEqual(['TokenDecryptionError']);
  });

  it('a warm repeat decrypt of the same ciphertext makes no KMS call', async () => {
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    await cipher.decrypt(REALM, ciphertext);
    kms.resetCounts();
    for (let read = 0; read < 10; read += 1)
      await expect(cipher.decrypt(REALM, ciphertext)).resolves.toEqual(SECRETS);
    expect(kms.counts()).toEqual(NO_CALLS);
  });

  it('encrypts for one company reuse its data key; another company gets a key of its own', async () => {
    await cipher.encrypt(REALM, SECRETS);
    await cipher.encrypt(REALM, { ...SECRETS, accessToken: 'canary-access-token-rotated' });
    expect(kms.counts().GenerateDataKey).toBe(1);
    await cipher.encrypt(OTHER_REALM, SECRETS);
    expect(kms.counts().GenerateDataKey).toBe(2);
  });

  it('a data key encrypts at most 1,000 token sets, then KMS generates a new one', async () => {
    for (let write = 0; write < DATA_KEY_MAX_MESSAGES; write += 1) await cipher.encrypt(REALM, SECRETS);
    expect(kms.counts().GenerateDataKey).toBe(1);
    await cipher.encrypt(REALM, SECRETS);
    expect(kms.counts().GenerateDataKey).toBe(2);
  }, 60_000);

  it('cached data keys are used for 5 minutes at most, for encrypt and decrypt alike', async () => {
    const start = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(start);
    try {
      const ciphertext = await cipher.encrypt(REALM, SECRETS);
      await cipher.decrypt(REALM, ciphertext);
      clock.mockReturnValue(start + DATA_KEY_MAX_AGE_MS);
      await cipher.encrypt(REALM, SECRETS);
      await cipher.decrypt(REALM, ciphertext);
      expect(kms.counts()).toEqual({ GenerateDataKey: 1, Encrypt: 0, Decrypt: 1 });
      clock.mockReturnValue(start + DATA_KEY_MAX_AGE_MS + 1);
      await cipher.encrypt(REALM, SECRETS);
      await cipher.decrypt(REALM, ciphertext);
      expect(kms.counts()).toEqual({ GenerateDataKey: 2, Encrypt: 0, Decrypt: 2 });
    } finally {
      clock.mockRestore();
    }
  });

  it('over 1,000 companies: 1 GenerateDataKey each on encrypt, 1 Decrypt each on the first read, none on a repeat read', async () => {
    const realms = Array.from({ length: 1000 }, (_, index) => `91303577660${String(index).padStart(5, '0')}`);
    expect(new Set(realms).size).toBe(1000);
    const stored = new Map<string, Uint8Array>();
    for (const realm of realms) stored.set(realm, await cipher.encrypt(realm, SECRETS));
    expect(kms.counts()).toEqual({ GenerateDataKey: 1000, Encrypt: 0, Decrypt: 0 });

    kms.resetCounts();
    for (const realm of realms) await cipher.decrypt(realm, stored.get(realm) ?? new Uint8Array());
    // The caching manager keeps encryption and decryption materials apart: the first read of a
    // just-written item unwraps its data key once.
    expect(kms.counts()).toEqual({ GenerateDataKey: 0, Encrypt: 0, Decrypt: 1000 });

    kms.resetCounts();
    for (const realm of realms)
      await expect(cipher.decrypt(realm, stored.get(realm) ?? new Uint8Array())).resolves.toEqual(SECRETS);
    expect(kms.counts()).toEqual(NO_CALLS);
  }, 60_000);

  it('a ciphertext under another KMS key than the configured one does not decrypt, and KMS is not asked', async () => {
    const otherKey = kms.createKey();
    const ciphertext = await kmsTokenCipher({
      keyArn: otherKey,
      environment: 'dev',
      kmsClient: kms.client,
    }).encrypt(REALM, SECRETS);
    kms.resetCounts();
    await expect(cipher.decrypt(REALM, ciphertext)).rejects.toBeInstanceOf(TokenDecryptionError);
    expect(kms.counts()).toEqual(NO_CALLS);
  });

  it('H4: KMS refusing the key (AccessDenied) on decrypt is a TokenDecryptionError', async () => {
    const ciphertext = await cipher.encrypt(REALM, SECRETS);
    kms.denyAccess(kms.keyArn);
    const reader = kmsTokenCipher({ keyArn: kms.keyArn, environment: 'dev', kmsClient: kms.client });
    await expect(reader.decrypt(REALM, ciphertext)).rejects.toBeInstanceOf(TokenDecryptionError);
  });

  it('KMS refusing the key on encrypt is a CipherUnavailableError: nothing is written, the caller may retry', async () => {
    kms.denyAccess(kms.keyArn);
    const error = await failureOf(cipher.encrypt(REALM, SECRETS));
    expect(error).toBeInstanceOf(CipherUnavailableError);
    expect(error).toMatchObject({ operation: 'encrypt', cause: { name: 'AccessDeniedException' } });
  });

  describe('when KMS cannot answer now', () => {
    it('throttling on decrypt: retried once, then CipherUnavailableError with no enumerable raw error', async () => {
      const ciphertext = await cipher.encrypt(REALM, SECRETS);
      const reader = kmsTokenCipher({ keyArn: kms.keyArn, environment: 'dev', kmsClient: kms.client });
      kms.setFault('throttling');
      kms.resetCounts();
      const error = await failureOf(reader.decrypt(REALM, ciphertext));
      expect(error).toBeInstanceOf(CipherUnavailableError);
      expect(error).toMatchObject({ operation: 'decrypt' });
      expect(kms.counts().Decrypt).toBe(2);
      // Only strings are enumerable: a logger that spreads the error finds no SDK error to print.
      expect(Object.values(error as object).every((value) => typeof value === 'string')).toBe(true);
      expect((error as Error).cause).toEqual({ name: 'ThrottlingException' });
      const rendered = everyRendering(error);
      expect(rendered).not.toMatch(/\$metadata|httpStatusCode|local KMS stand-in|Rate exceeded/);
      expectNoTokenIn(rendered);
    });

    it('throttling on encrypt is a CipherUnavailableError naming only the SDK error', async () => {
      kms.setFault('throttling');
      const error = await failureOf(cipher.encrypt(REALM, SECRETS));
      expect(error).toBeInstanceOf(CipherUnavailableError);
      expect(error).toMatchObject({ operation: 'encrypt', cause: { name: 'ThrottlingException' } });
      expectNoTokenIn(everyRendering(error));
    });

    it.each(['internal', 'unreachable'] as const)(
      'a KMS that is %s: CipherUnavailableError on both operations',
      async (fault) => {
        const ciphertext = await cipher.encrypt(REALM, SECRETS);
        const reader = kmsTokenCipher({ keyArn: kms.keyArn, environment: 'dev', kmsClient: kms.client });
        kms.setFault(fault);
        await expect(reader.decrypt(REALM, ciphertext)).rejects.toBeInstanceOf(CipherUnavailableError);
        await expect(reader.encrypt(OTHER_REALM, SECRETS)).rejects.toBeInstanceOf(CipherUnavailableError);
      },
    );

    it('a KMS endpoint that accepts but never answers: the request times out, CipherUnavailableError', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => void sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      try {
        const kmsClient = createKmsClient(kms.keyArn, {
          endpoint: `http://127.0.0.1:${port}`,
          credentials: { accessKeyId: 'LOCALTEST', secretAccessKey: 'local-test' },
          // The real handler's own timeout, shortened so the test stays quick.
          requestHandler: { connectionTimeout: 200, requestTimeout: 200, throwOnRequestTimeout: true },
        });
        const hanging = kmsTokenCipher({ keyArn: kms.keyArn, environment: 'dev', kmsClient });
        const error = await failureOf(hanging.encrypt(REALM, SECRETS));
        expect(error).toBeInstanceOf(CipherUnavailableError);
        expect((error as Error).cause).toMatchObject({ name: 'TimeoutError' });
        const ciphertext = await cipher.encrypt(REALM, SECRETS);
        await expect(hanging.decrypt(REALM, ciphertext)).rejects.toBeInstanceOf(CipherUnavailableError);
        expect(sockets.size).toBeGreaterThan(0);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('a cached data key still serves a warm read while KMS is down', async () => {
      const ciphertext = await cipher.encrypt(REALM, SECRETS);
      await cipher.decrypt(REALM, ciphertext);
      kms.setFault('unreachable');
      await expect(cipher.decrypt(REALM, ciphertext)).resolves.toEqual(SECRETS);
    });
  });

  describe('H4: the encrypter given to the callback', () => {
    it('only encrypts: it has no decrypt, in its type or at run time', async () => {
      const encrypter = kmsTokenEncrypter({ keyArn: kms.keyArn, environment: 'dev', kmsClient: kms.client });
      // @ts-expect-error TokenEncrypter has no decrypt: the callback cannot read tokens back.
      const decrypt: unknown = encrypter.decrypt;
      expect(decrypt).toBeUndefined();
      expect('decrypt' in encrypter).toBe(false);
      expect(encrypter).not.toBeInstanceOf(EncryptionSdkTokenCipher);
    });

    it('needs only GenerateDataKey, and what it writes the token cipher reads', async () => {
      const encrypter = kmsTokenEncrypter({ keyArn: kms.keyArn, environment: 'dev', kmsClient: kms.client });
      const ciphertext = await encrypter.encrypt(REALM, SECRETS);
      expect(kms.counts()).toEqual({ GenerateDataKey: 1, Encrypt: 0, Decrypt: 0 });
      await expect(cipher.decrypt(REALM, ciphertext)).resolves.toEqual(SECRETS);
    });
  });
});

describe('the KMS client the keyring uses by default', () => {
  it("is bounded (two attempts) and set to the key's own region", async () => {
    const client = createKmsClient(
      'arn:aws:kms:ca-central-1:123456789012:key/8a7e3c51-0d5e-4c1f-9b43-5d0f8e7c2a11',
    );
    await expect(client.config.region()).resolves.toBe('ca-central-1');
    await expect(client.config.maxAttempts()).resolves.toBe(2);
  });
});
