/**
 * A KMS stand-in for tests and the benchmark: a real SDK v3 KMSClient (the one the token cipher
 * builds, with its retries, signing and error parsing) whose HTTP requests are answered in-process
 * instead of going to AWS. GenerateDataKey, Encrypt and Decrypt behave like KMS where the Encryption
 * SDK depends on it: data keys sealed with AES-256-GCM under a random master key per key ARN, the
 * encryption context bound in as additional data (a different context does not decrypt), the KeyId
 * of a Decrypt checked against the one that sealed the blob. It counts every request per operation
 * (retries included, as KMS would bill them), so a test or the bench can say how many KMS calls a
 * token read cost.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import { createKmsClient } from '../lambdas/adapters/encryption-sdk-token-cipher';

export type KmsOperation = 'GenerateDataKey' | 'Encrypt' | 'Decrypt';

/** What the stand-in does instead of answering, until cleared. */
export type KmsFault =
  /** 400 ThrottlingException, which the SDK retries. */
  | 'throttling'
  /** 500 KMSInternalException. */
  | 'internal'
  /** The connection is refused before any answer. */
  | 'unreachable';

export interface LocalKms {
  /** The ARN of the key created with the stand-in. */
  readonly keyArn: string;
  /** A KMSClient (bounded as the token cipher's) whose requests the stand-in answers. */
  readonly client: KMSClient;
  /** Another key in the same account and region. */
  createKey(): string;
  /** Every later request naming this key is refused with AccessDeniedException. */
  denyAccess(keyArn: string): void;
  /** Answers every later request with this fault; `undefined` restores normal answers. */
  setFault(fault: KmsFault | undefined): void;
  /** Requests received per operation since creation or the last reset. */
  counts(): Readonly<Record<KmsOperation, number>>;
  resetCounts(): void;
}

interface KmsHttpRequest {
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
}

interface KmsHttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    readonly statusCode = 400,
  ) {
    super(type);
  }
}

const REGION = 'eu-west-1';
const ACCOUNT = '000000000000';
const BLOB_VERSION = 1;

export function createLocalKms(): LocalKms {
  const masterKeys = new Map<string, Buffer>();
  const denied = new Set<string>();
  let fault: KmsFault | undefined;
  let requests = { GenerateDataKey: 0, Encrypt: 0, Decrypt: 0 };

  const createKey = (): string => {
    const arn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${randomUUID()}`;
    masterKeys.set(arn, randomBytes(32));
    return arn;
  };
  const keyArn = createKey();

  const usableKey = (keyId: unknown): [string, Buffer] => {
    if (typeof keyId !== 'string') throw new KmsError('ValidationException');
    if (denied.has(keyId)) throw new KmsError('AccessDeniedException');
    const master = masterKeys.get(keyId);
    if (master === undefined) throw new KmsError('NotFoundException');
    return [keyId, master];
  };

  const seal = (arn: string, master: Buffer, plaintext: Buffer, context: unknown): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', master, iv);
    cipher.setAAD(contextBytes(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const arnBytes = Buffer.from(arn, 'utf8');
    const header = Buffer.alloc(3);
    header.writeUInt8(BLOB_VERSION, 0);
    header.writeUInt16BE(arnBytes.length, 1);
    return Buffer.concat([header, arnBytes, iv, cipher.getAuthTag(), sealed]);
  };

  const unseal = (blob: Buffer, keyId: unknown, context: unknown): [string, Buffer] => {
    if (blob.length < 3 || blob.readUInt8(0) !== BLOB_VERSION)
      throw new KmsError('InvalidCiphertextException');
    const arnLength = blob.readUInt16BE(1);
    const arn = blob.subarray(3, 3 + arnLength).toString('utf8');
    if (!masterKeys.has(arn)) throw new KmsError('InvalidCiphertextException');
    if (keyId !== undefined && keyId !== arn) throw new KmsError('IncorrectKeyException');
    const [, master] = usableKey(arn);
    const rest = blob.subarray(3 + arnLength);
    try {
      const decipher = createDecipheriv('aes-256-gcm', master, rest.subarray(0, 12));
      decipher.setAAD(contextBytes(context));
      decipher.setAuthTag(rest.subarray(12, 28));
      return [arn, Buffer.concat([decipher.update(rest.subarray(28)), decipher.final()])];
    } catch {
      throw new KmsError('InvalidCiphertextException');
    }
  };

  const operations: Record<KmsOperation, (input: Record<string, unknown>) => Record<string, unknown>> = {
    GenerateDataKey: (input) => {
      const [arn, master] = usableKey(input.KeyId);
      const bytes = input.NumberOfBytes ?? 32;
      if (typeof bytes !== 'number' || bytes < 1 || bytes > 1024) throw new KmsError('ValidationException');
      const plaintext = randomBytes(bytes);
      const blob = seal(arn, master, plaintext, input.EncryptionContext);
      return { KeyId: arn, Plaintext: plaintext.toString('base64'), CiphertextBlob: blob.toString('base64') };
    },
    Encrypt: (input) => {
      const [arn, master] = usableKey(input.KeyId);
      const plaintext = Buffer.from(String(input.Plaintext), 'base64');
      return {
        KeyId: arn,
        CiphertextBlob: seal(arn, master, plaintext, input.EncryptionContext).toString('base64'),
      };
    },
    Decrypt: (input) => {
      const blob = Buffer.from(String(input.CiphertextBlob), 'base64');
      const [arn, plaintext] = unseal(blob, input.KeyId, input.EncryptionContext);
      return { KeyId: arn, Plaintext: plaintext.toString('base64') };
    },
  };

  const handle = async (request: KmsHttpRequest): Promise<{ response: KmsHttpResponse }> => {
    const operation = headerOf(request, 'x-amz-target')?.replace(/^TrentService\./, '');
    if (operation !== 'GenerateDataKey' && operation !== 'Encrypt' && operation !== 'Decrypt')
      return { response: errorResponse(new KmsError('UnknownOperationException')) };
    requests[operation] += 1;
    if (fault === 'unreachable')
      throw Object.assign(new Error('connect ECONNREFUSED (local KMS stand-in)'), { code: 'ECONNREFUSED' });
    try {
      if (fault === 'throttling') throw new KmsError('ThrottlingException');
      if (fault === 'internal') throw new KmsError('KMSInternalException', 500);
      const output = operations[operation](parseBody(request.body));
      return { response: jsonResponse(200, output) };
    } catch (error) {
      if (error instanceof KmsError) return { response: errorResponse(error) };
      throw error;
    }
  };

  const client = createKmsClient(keyArn, {
    credentials: { accessKeyId: 'LOCALKMSSTANDIN', secretAccessKey: 'local-kms-stand-in' },
    requestHandler: { handle },
  });

  return {
    keyArn,
    client,
    createKey,
    denyAccess: (arn) => void denied.add(arn),
    setFault: (next) => {
      fault = next;
    },
    counts: () => ({ ...requests }),
    resetCounts: () => {
      requests = { GenerateDataKey: 0, Encrypt: 0, Decrypt: 0 };
    },
  };
}

/** KMS binds the context as a set of pairs: the order they were sent in does not matter. */
function contextBytes(context: unknown): Buffer {
  const pairs = Object.entries(typeof context === 'object' && context !== null ? context : {}).sort(
    ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0),
  );
  return Buffer.from(JSON.stringify(pairs), 'utf8');
}

function headerOf(request: KmsHttpRequest, name: string): string | undefined {
  const entry = Object.entries(request.headers).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}

function parseBody(body: unknown): Record<string, unknown> {
  // TextDecoder reads the bytes only: the SDK's body warns when used as a string.
  const text =
    typeof body === 'string' ? body : body instanceof Uint8Array ? new TextDecoder().decode(body) : '{}';
  const parsed: unknown = JSON.parse(text === '' ? '{}' : text);
  if (typeof parsed !== 'object' || parsed === null) throw new KmsError('SerializationException');
  return parsed as Record<string, unknown>;
}

function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): KmsHttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), ...headers },
    body: Buffer.from(JSON.stringify(body), 'utf8'),
  };
}

function errorResponse(error: KmsError): KmsHttpResponse {
  return jsonResponse(
    error.statusCode,
    { __type: error.type, message: `local KMS stand-in: ${error.type}` },
    { 'x-amzn-errortype': error.type },
  );
}
