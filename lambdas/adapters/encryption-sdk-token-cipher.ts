/**
 * Envelope encryption of a connection's tokens with the AWS Encryption SDK (H3, H4): a data key
 * per company from KMS (or, in `npm start`, wrapped by a local AES key), the tokens sealed under it
 * with AES-256-GCM, and the realmId and deployment bound in as encryption context. The ciphertext
 * is a self-describing Encryption SDK message, so a key rotation or a move to another keyring needs
 * no migration of stored items.
 *
 * Built from the Encryption SDK's modular packages rather than `@aws-crypto/client-node`: that
 * index loads every keyring (RSA, the hierarchical keyring's branch key store with its own DynamoDB
 * client) and `KmsKeyringNode` loads the aggregated KMS client with all its commands. Measured with
 * bench/cipher-cost.ts, that about halved what the cipher adds to a token function's cold init.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { KMSClientConfig } from '@aws-sdk/client-kms';
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  NodeCachingMaterialsManager,
  getLocalCryptographicMaterialsCache,
} from '@aws-crypto/caching-materials-manager-node';
import { buildDecrypt } from '@aws-crypto/decrypt-node';
import { buildEncrypt } from '@aws-crypto/encrypt-node';
import type { AwsEsdkKMSInterface } from '@aws-crypto/kms-keyring';
import { KmsKeyringClass } from '@aws-crypto/kms-keyring';
import type { Newable, NodeAlgorithmSuite, NodeMaterialsManager } from '@aws-crypto/material-management-node';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  KeyringNode,
} from '@aws-crypto/material-management-node';
import { RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/raw-aes-keyring-node';
import { safeCause } from '../core/errors';
import type { TokenCipher, TokenEncrypter, TokenSecrets } from '../core/token-cipher';
import { CipherUnavailableError, TokenDecryptionError } from '../core/token-cipher';

/** Names the use of the key in every ciphertext and KMS request (a key policy can require it). */
export const TOKEN_PURPOSE = 'qbo-connector/tokens';

/**
 * Committing (a ciphertext opens under one data key only) and unsigned. A signing suite would add
 * an ECDSA P-384 verify to every decrypt, cache hit or not, and a fresh public key to the context
 * of every data key, so a warm read would cost a curve operation instead of one AES-GCM pass. What
 * a signature adds, that a role able to decrypt cannot forge a message, buys nothing here: every
 * role that may decrypt tokens may also encrypt them.
 */
const TOKEN_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

/**
 * We write exactly one data key per message; refusing more stops a forged item from making this
 * function call KMS once per key it lists.
 */
const MAX_ENCRYPTED_DATA_KEYS = 1;

const CLIENT_OPTIONS = {
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: MAX_ENCRYPTED_DATA_KEYS,
};

/** A token pair is well under 4 KiB; anything far larger is not ours. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * How long a data key is reused. It bounds how long a plaintext data key lives in memory and how
 * soon a removed kms:Decrypt grant takes effect in a warm function, while a company whose tokens
 * are read again within it (an app polling for its access token) costs no KMS call. At 1,000
 * active companies per warm container that is at most ~3.3 KMS calls a second, far under KMS's
 * shared request quota.
 */
export const DATA_KEY_MAX_AGE_MS = 5 * 60 * 1000;

/**
 * At most this many token sets are encrypted under one data key. A company's tokens are written about
 * once an hour (each refresh), so in practice the age bound ends a key first; this one caps
 * what a single leaked data key could open if refreshes ever ran in a loop.
 */
export const DATA_KEY_MAX_MESSAGES = 1000;

/**
 * Entries kept per function instance: each company active within the max age needs two (the key
 * it encrypted with and the key it decrypted), so 4,000 covers 2,000 companies per warm container;
 * beyond that the least recently used go first (and cost one KMS call when next needed).
 */
export const MATERIALS_CACHE_CAPACITY = 4000;

/**
 * KMS answers in milliseconds; a token request must still answer inside its own budget when KMS
 * does not. One retry (for throttling or a dropped connection) and then the caller answers 503.
 */
export const KMS_CONNECTION_TIMEOUT_MS = 1000;
export const KMS_REQUEST_TIMEOUT_MS = 2000;
export const KMS_MAX_ATTEMPTS = 2;

/**
 * KMS errors that say "not now" rather than "not this ciphertext": throttling, KMS or its key
 * store failing, a key disabled or pending deletion (an operator can undo that; the tokens are
 * intact, so the connection must not be written off).
 */
const KEY_SERVICE_UNAVAILABLE_ERRORS = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'DisabledException',
  'KMSInvalidStateException',
  'ServiceUnavailableException',
  'InternalFailure',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

function isKeyServiceUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const { name, $fault, $metadata } = error as {
    name?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  if (typeof name === 'string' && KEY_SERVICE_UNAVAILABLE_ERRORS.has(name)) return true;
  if ($fault === 'server') return true;
  // No HTTP status: KMS never answered (refused, reset, DNS, no credentials).
  return typeof $metadata?.httpStatusCode !== 'number';
}

/**
 * The KMS keyring of `@aws-crypto/kms-keyring`, over the SDK client this module builds (the same
 * class `KmsKeyringNode` is, minus its default client supplier).
 */
class TokenKmsKeyring extends KmsKeyringClass<NodeAlgorithmSuite, AwsEsdkKMSInterface>(
  // The mixin only extends its base, and the class it returns implements the abstract hooks; the
  // parameter's type cannot say "abstract constructor". KmsKeyringNode is this mixin on this base.
  KeyringNode as unknown as Newable<KeyringNode>,
) {}

/**
 * The KMS keyring swallows each failed Decrypt into one concatenated message (it may try other
 * keys), which would lose whether KMS was throttled or refused the key. Each operation runs in its
 * own store, and the client records the failures that mean "try again later" there.
 */
interface OperationFailures {
  unavailable?: unknown;
}
const operationFailures = new AsyncLocalStorage<OperationFailures>();

/** The three calls the keyring makes, sent through a modular SDK v3 client. */
function keyServiceClient(kms: KMSClient): AwsEsdkKMSInterface {
  const recorded = async <T>(call: Promise<T>): Promise<T> => {
    try {
      return await call;
    } catch (error) {
      const failures = operationFailures.getStore();
      if (failures !== undefined && isKeyServiceUnavailable(error)) failures.unavailable ??= error;
      throw error;
    }
  };
  return {
    generateDataKey: async (input) => present(await recorded(kms.send(new GenerateDataKeyCommand(input)))),
    encrypt: async (input) => present(await recorded(kms.send(new EncryptCommand(input)))),
    decrypt: async (input) => present(await recorded(kms.send(new DecryptCommand(input)))),
  };
}

/** The SDK's outputs spell absent fields as undefined; the keyring's types leave them out. */
function present<T extends object>(output: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(output).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

export interface EncryptionSdkTokenCipherOptions {
  /** Wraps and unwraps the data keys: a KMS keyring in AWS, a raw AES keyring locally. */
  readonly keyring: KeyringNode;
  /** The deployment (dev, prod, local): bound into every ciphertext, so one cannot read another's. */
  readonly environment: string;
}

/**
 * TokenCipher over the Encryption SDK with a caching materials manager: a warm repeat decrypt of
 * the same item and encrypts for the same company within the bounds above make no KMS call.
 */
export class EncryptionSdkTokenCipher implements TokenCipher {
  private readonly client = {
    ...buildEncrypt(CLIENT_OPTIONS),
    ...buildDecrypt(CLIENT_OPTIONS),
  };
  private readonly materials: NodeMaterialsManager;
  private readonly environment: string;

  constructor(options: EncryptionSdkTokenCipherOptions) {
    this.environment = options.environment;
    // The cache key includes the encryption context, so a data key is never shared by two
    // companies or two deployments.
    this.materials = new NodeCachingMaterialsManager({
      backingMaterials: options.keyring,
      cache: getLocalCryptographicMaterialsCache(MATERIALS_CACHE_CAPACITY),
      maxAge: DATA_KEY_MAX_AGE_MS,
      maxMessagesEncrypted: DATA_KEY_MAX_MESSAGES,
    });
  }

  async encrypt(realmId: string, secrets: TokenSecrets): Promise<Uint8Array> {
    const plaintext = Buffer.from(
      JSON.stringify({ accessToken: secrets.accessToken, refreshToken: secrets.refreshToken }),
      'utf8',
    );
    try {
      const { result } = await this.client.encrypt(this.materials, plaintext, {
        suiteId: TOKEN_SUITE,
        encryptionContext: this.contextFor(realmId),
      });
      return Uint8Array.from(result);
    } catch (error) {
      // Whatever failed (KMS unreachable or refusing the key), nothing was written: try again later.
      throw new CipherUnavailableError('encrypt', { cause: safeCause(error) });
    } finally {
      plaintext.fill(0);
    }
  }

  async decrypt(realmId: string, ciphertext: Uint8Array): Promise<TokenSecrets> {
    const failures: OperationFailures = {};
    let plaintext: Buffer;
    try {
      const output = await operationFailures.run(failures, () =>
        this.client.decrypt(this.materials, ciphertext, { maxBodySize: MAX_BODY_BYTES }),
      );
      plaintext = output.plaintext;
      if (
        output.messageHeader.suiteId !== TOKEN_SUITE ||
        !this.isContextFor(realmId, output.messageHeader.encryptionContext)
      ) {
        plaintext.fill(0);
        throw new TokenDecryptionError(realmId);
      }
    } catch (error) {
      if (error instanceof TokenDecryptionError) throw error;
      if (failures.unavailable !== undefined)
        throw new CipherUnavailableError('decrypt', { cause: safeCause(failures.unavailable) });
      // Altered bytes, a malformed message, another key, or a key that refuses us.
      throw new TokenDecryptionError(realmId);
    }
    try {
      return parseSecrets(plaintext, realmId);
    } finally {
      plaintext.fill(0);
    }
  }

  private contextFor(realmId: string): Record<string, string> {
    return { purpose: TOKEN_PURPOSE, realmId, environment: this.environment };
  }

  /** Exactly our three pairs: a ciphertext of another company or deployment is not ours. */
  private isContextFor(realmId: string, context: Readonly<Record<string, string>>): boolean {
    const expected = this.contextFor(realmId);
    const keys = Object.keys(context);
    return (
      keys.length === Object.keys(expected).length &&
      keys.every(
        (key) => Object.prototype.hasOwnProperty.call(expected, key) && expected[key] === context[key],
      )
    );
  }
}

function parseSecrets(plaintext: Buffer, realmId: string): TokenSecrets {
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new TokenDecryptionError(realmId);
  }
  const { accessToken, refreshToken } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string')
    throw new TokenDecryptionError(realmId);
  return { accessToken, refreshToken };
}

export interface KmsTokenCipherOptions {
  /**
   * The token key's ARN (a key ARN, not an alias: each ciphertext records the key, and decrypt
   * accepts only ciphertexts of this one).
   */
  readonly keyArn: string;
  /** The deployment name (dev, prod), bound into every ciphertext. */
  readonly environment: string;
  /**
   * @default a KMSClient for the key's region with short timeouts and one retry, created once
   */
  readonly kmsClient?: KMSClient;
}

/** The bounded client every KMS keyring of this service uses, in the key's own region. */
export function createKmsClient(keyArn: string, config: KMSClientConfig = {}): KMSClient {
  const region = /^arn:[^:]+:kms:([^:]+):/.exec(keyArn)?.[1];
  return new KMSClient({
    ...(region !== undefined ? { region } : {}),
    maxAttempts: KMS_MAX_ATTEMPTS,
    requestHandler: {
      connectionTimeout: KMS_CONNECTION_TIMEOUT_MS,
      requestTimeout: KMS_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
    ...config,
  });
}

function kmsKeyring({ keyArn, kmsClient }: KmsTokenCipherOptions): KeyringNode {
  const client = keyServiceClient(kmsClient ?? createKmsClient(keyArn));
  // One client for the one key: the keyring's default would build a client per region it meets.
  return new TokenKmsKeyring({ generatorKeyId: keyArn, clientProvider: () => client });
}

/**
 * Encrypts and decrypts under the KMS token key: for the token API and the refresher, whose roles
 * need kms:GenerateDataKey and kms:Decrypt on it.
 */
export function kmsTokenCipher(options: KmsTokenCipherOptions): TokenCipher {
  return new EncryptionSdkTokenCipher({ keyring: kmsKeyring(options), environment: options.environment });
}

/**
 * Encrypts only, for the callback: its role needs kms:GenerateDataKey alone. The object returned
 * has no decrypt at all, not merely a narrower type.
 */
export function kmsTokenEncrypter(options: KmsTokenCipherOptions): TokenEncrypter {
  const cipher = kmsTokenCipher(options);
  return { encrypt: (realmId, secrets) => cipher.encrypt(realmId, secrets) };
}

export interface LocalTokenCipherOptions {
  /** A 256-bit AES key that wraps each data key (npm start keeps it with its local data). */
  readonly key: Uint8Array;
  /** @default 'local' */
  readonly environment?: string;
}

/** The same Encryption SDK path with a local wrapping key in place of KMS (`npm start`, tests). */
export function localTokenCipher({ key, environment = 'local' }: LocalTokenCipherOptions): TokenCipher {
  if (key.byteLength !== 32) throw new RangeError('the local token key must be 32 bytes');
  const keyring = new RawAesKeyringNode({
    keyNamespace: 'qbo-connector-local',
    keyName: 'token-key',
    unencryptedMasterKey: Uint8Array.from(key),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  return new EncryptionSdkTokenCipher({ keyring, environment });
}
