import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { createLocalKms } from '../../local/local-kms';

const CONTEXT = { purpose: 'qbo-connector/tokens', realmId: '4620816365', environment: 'dev' };

async function errorNameOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof Error ? error.name : String(error)),
  );
}

describe('the local KMS stand-in answers as KMS does where the Encryption SDK depends on it', () => {
  it('GenerateDataKey returns a data key that Decrypt recovers under the same key and context', async () => {
    const kms = createLocalKms();
    const generated = await kms.client.send(
      new GenerateDataKeyCommand({ KeyId: kms.keyArn, NumberOfBytes: 32, EncryptionContext: CONTEXT }),
    );
    expect(generated.KeyId).toBe(kms.keyArn);
    expect(generated.Plaintext).toHaveLength(32);
    const decrypted = await kms.client.send(
      new DecryptCommand({
        KeyId: kms.keyArn,
        CiphertextBlob: generated.CiphertextBlob,
        EncryptionContext: { environment: 'dev', realmId: '4620816365', purpose: 'qbo-connector/tokens' },
      }),
    );
    expect(Buffer.from(decrypted.Plaintext ?? []).equals(Buffer.from(generated.Plaintext ?? []))).toBe(true);
  });

  it('Encrypt seals given bytes that Decrypt returns', async () => {
    const kms = createLocalKms();
    const plaintext = Buffer.from('a data key of thirty-two bytes!!');
    const sealed = await kms.client.send(
      new EncryptCommand({ KeyId: kms.keyArn, Plaintext: plaintext, EncryptionContext: CONTEXT }),
    );
    const opened = await kms.client.send(
      new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: CONTEXT }),
    );
    expect(Buffer.from(opened.Plaintext ?? []).equals(plaintext)).toBe(true);
  });

  it('refuses another context, another KeyId, an unknown key, a denied key and altered bytes', async () => {
    const kms = createLocalKms();
    const { CiphertextBlob } = await kms.client.send(
      new GenerateDataKeyCommand({ KeyId: kms.keyArn, NumberOfBytes: 32, EncryptionContext: CONTEXT }),
    );
    const decrypt = (input: Partial<ConstructorParameters<typeof DecryptCommand>[0]>) =>
      errorNameOf(
        kms.client.send(
          new DecryptCommand({ KeyId: kms.keyArn, CiphertextBlob, EncryptionContext: CONTEXT, ...input }),
        ),
      );
    await expect(decrypt({ EncryptionContext: { ...CONTEXT, realmId: '4620816366' } })).resolves.toBe(
      'InvalidCiphertextException',
    );
    await expect(decrypt({ KeyId: kms.createKey() })).resolves.toBe('IncorrectKeyException');
    const altered = Uint8Array.from(CiphertextBlob ?? []);
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
    await expect(decrypt({ CiphertextBlob: altered })).resolves.toBe('InvalidCiphertextException');
    await expect(
      errorNameOf(
        kms.client.send(
          new GenerateDataKeyCommand({
            KeyId: 'arn:aws:kms:eu-west-1:000000000000:key/00000000-0000-4000-8000-000000000000',
            NumberOfBytes: 32,
          }),
        ),
      ),
    ).resolves.toBe('NotFoundException');
    kms.denyAccess(kms.keyArn);
    await expect(decrypt({})).resolves.toBe('AccessDeniedException');
  });

  it('counts every request per operation, retries included, until reset', async () => {
    const kms = createLocalKms();
    await kms.client.send(new GenerateDataKeyCommand({ KeyId: kms.keyArn, NumberOfBytes: 32 }));
    expect(kms.counts()).toEqual({ GenerateDataKey: 1, Encrypt: 0, Decrypt: 0 });
    kms.setFault('throttling');
    await expect(
      errorNameOf(kms.client.send(new GenerateDataKeyCommand({ KeyId: kms.keyArn, NumberOfBytes: 32 }))),
    ).resolves.toBe('ThrottlingException');
    expect(kms.counts().GenerateDataKey).toBe(3);
    kms.resetCounts();
    expect(kms.counts()).toEqual({ GenerateDataKey: 0, Encrypt: 0, Decrypt: 0 });
  });
});
