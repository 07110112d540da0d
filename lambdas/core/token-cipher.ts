/**
 * The port that encrypts a connection's tokens in the application before they reach DynamoDB
 * (docs/security.md H3): a table scan, an export or a backup shows ciphertext only. The realmId is
 * bound into the ciphertext (the encryption context), so a ciphertext copied onto another company's
 * item does not decrypt.
 *
 * Two roles: the callback may only encrypt (TokenEncrypter); the token API and the refresher also
 * decrypt (TokenCipher).
 */

/** The secret part of a token set; expiry times stay in plain attributes (indexes need them). */
export interface TokenSecrets {
  readonly accessToken: string;
  readonly refreshToken: string;
}

export interface TokenEncrypter {
  /** Encrypts the pair for this company; the result is opaque and self-describing. */
  encrypt(realmId: string, secrets: TokenSecrets): Promise<Uint8Array>;
}

export interface TokenCipher extends TokenEncrypter {
  /**
   * Decrypts what `encrypt` produced for the same realmId. Rejects with TokenDecryptionError when
   * the ciphertext is not this company's or was altered, and with a CipherUnavailableError when
   * the key service cannot answer now.
   */
  decrypt(realmId: string, ciphertext: Uint8Array): Promise<TokenSecrets>;
}

/** The ciphertext is not this company's, was altered, or the key is not the configured one. */
export class TokenDecryptionError extends Error {
  override readonly name = 'TokenDecryptionError';
  constructor(readonly realmId: string) {
    super('stored tokens do not decrypt for this company');
  }
}

/** The key service (KMS) could not be reached or refused for now: try again later. */
export class CipherUnavailableError extends Error {
  override readonly name = 'CipherUnavailableError';
  constructor(
    readonly operation: 'encrypt' | 'decrypt',
    options?: { cause?: unknown },
  ) {
    super(`token ${operation}: key service unavailable`);
    if (options?.cause !== undefined)
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false });
  }
}
