import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A1: 32 bytes from the CSPRNG, base64url; opaque, carries no data. */
export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** Length of a base64url encoding of 32 bytes, so anything else cannot be one of our states. */
export const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Codes and states are stored and logged only as SHA-256 hex (docs/design.md invariant 4). */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A short prefix of a hash: enough to correlate log lines, too short to be worth anything else. */
export function hashPrefix(hash: string): string {
  return hash.slice(0, 12);
}

/** Constant-time comparison of two secrets of any length (hashing first equalises the lengths). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

const REFERENCE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** A short reference a user can read out to support; it joins a page to its log line. */
export function newReference(): string {
  const bytes = randomBytes(8);
  let out = '';
  for (const byte of bytes) out += REFERENCE_ALPHABET[byte % REFERENCE_ALPHABET.length];
  return out;
}
export const REFERENCE_PATTERN = /^[A-Z2-9]{8}$/;

/** A QuickBooks company id: digits only; 10 to 19 seen in practice, so 32 is a generous bound (docs/intuit.md). */
export const REALM_ID_PATTERN = /^[0-9]{1,32}$/;

/** The one `realmId` a query names, when it names exactly one well-formed id: a hint, never trusted. */
export function realmIdHintOf(rawQuery: string): string | undefined {
  const values = new URLSearchParams(rawQuery).getAll('realmId');
  return values.length === 1 && REALM_ID_PATTERN.test(values[0] ?? '') ? values[0] : undefined;
}
