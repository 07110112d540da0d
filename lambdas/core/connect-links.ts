/**
 * Signed connect links and signed redirects (docs/security.md A5, I1): what the app API mints, what
 * /connect verifies, and what the app's success and failure URLs carry so the app can trust them.
 *
 * One secret per environment; two keys derived from it with HKDF under their own labels, so a link
 * signature can never be replayed as a redirect signature and no second secret is read.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** The app's tenant ids: the same rule for links, the connection record and `?tenantId=`. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
/** How long a minted link may live, in seconds (README "Tenants and signed connect links"). */
export const CONNECT_LINK_LIFETIME_SECONDS = { min: 60, max: 3600, default: 300 } as const;
/** How old a signed redirect may be when the app asks whether it is genuine. */
export const REDIRECT_SIGNATURE_MAX_AGE_SECONDS = 600;
/** A redirect signed this far in the future is refused too (clock skew between app and connector). */
const REDIRECT_FUTURE_SKEW_SECONDS = 60;
/** The shortest secret accepted: 32 characters of a generated password, or 32 bytes. */
export const MIN_CONNECT_LINK_SECRET_LENGTH = 32;

const LINK_LABEL = 'qbo-connector connect-link v1';
const REDIRECT_LABEL = 'qbo-connector signed-redirect v1';
const NONCE_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const SIGNATURE_LENGTH = 43; // 32 bytes of HMAC-SHA256, base64url without padding
const NONCE_LENGTH = 22; // 16 bytes, base64url without padding
const EPOCH_SECONDS = /^[0-9]{1,12}$/;

/** The two keys derived from the environment's connect-link secret. */
export interface ConnectLinkKeys {
  readonly link: Buffer;
  readonly redirect: Buffer;
}

/** Where the keys come from (Secrets Manager in AWS, the environment or a per-run key locally). */
export interface ConnectLinkKeySource {
  /**
   * Resolves the derived keys. Rejects with ConfigError when the secret is missing or unusable and
   * with CredentialsUnavailableError when the store cannot answer right now. Implementations cache.
   */
  get(): Promise<ConnectLinkKeys>;
}

/** HKDF-SHA256 over the secret, one label per use. */
export function deriveConnectLinkKeys(secret: Uint8Array): ConnectLinkKeys {
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, 32));
  return { link: derive(LINK_LABEL), redirect: derive(REDIRECT_LABEL) };
}

function mac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('base64url');
}

/** Constant-time comparison of two base64url MACs (equal lengths are checked first, in the open). */
function macMatches(expected: string, presented: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface ConnectLinkFields {
  readonly tenantId: string;
  /** Epoch seconds after which the link is refused. */
  readonly exp: number;
  readonly nonce: string;
}

/** The link's signature: base64url(HMAC-SHA256(link key, "v1\n" + tenant + "\n" + exp + "\n" + nonce)). */
export function connectLinkSignature(keys: ConnectLinkKeys, fields: ConnectLinkFields): string {
  return mac(keys.link, `v1\n${fields.tenantId}\n${fields.exp}\n${fields.nonce}`);
}

/** A new link for `tenantId` at `connectUrl` (the deployment's absolute /connect URL). */
export function mintConnectLink(
  keys: ConnectLinkKeys,
  connectUrl: string,
  tenantId: string,
  exp: number,
  nonce: string = randomBytes(NONCE_BYTES).toString('base64url'),
): string {
  const url = new URL(connectUrl);
  url.search = '';
  url.searchParams.set('tenant', tenantId);
  url.searchParams.set('exp', String(exp));
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('sig', connectLinkSignature(keys, { tenantId, exp, nonce }));
  return url.toString();
}

/** Why a link was refused (the `reason` of CONNECT_LINK_REFUSED). */
export type LinkRefusal = 'malformed' | 'bad_signature' | 'expired' | 'reused' | 'unsigned' | 'no_key';

/** What a /connect query says about a link, before any key is used. */
export type ParsedConnectLink =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'link'; readonly fields: ConnectLinkFields; readonly sig: string };

const LINK_PARAMETERS = ['tenant', 'exp', 'nonce', 'sig'] as const;

/**
 * A /connect query: no link parameter at all (a plain /connect), exactly one of each, or malformed
 * (some missing, doubled, or not in their alphabets). Other parameters are ignored, as before.
 */
export function parseConnectLink(rawQuery: string): ParsedConnectLink {
  if (rawQuery.length > 2048) return { kind: 'malformed' };
  const query = new URLSearchParams(rawQuery);
  const values = LINK_PARAMETERS.map((name) => query.getAll(name));
  if (values.every((v) => v.length === 0)) return { kind: 'none' };
  if (values.some((v) => v.length !== 1)) return { kind: 'malformed' };
  const [tenantId, exp, nonce, sig] = values.map((v) => v[0] ?? '') as [string, string, string, string];
  if (
    !TENANT_ID_PATTERN.test(tenantId) ||
    !EPOCH_SECONDS.test(exp) ||
    nonce.length !== NONCE_LENGTH ||
    !BASE64URL.test(nonce) ||
    sig.length !== SIGNATURE_LENGTH ||
    !BASE64URL.test(sig)
  )
    return { kind: 'malformed' };
  return { kind: 'link', fields: { tenantId, exp: Number(exp), nonce }, sig };
}

/** The signature first (constant time), then the expiry; the nonce is the ledger's to consume. */
export function verifyConnectLink(
  keys: ConnectLinkKeys,
  link: Extract<ParsedConnectLink, { kind: 'link' }>,
  nowMs: number,
): { readonly ok: true } | { readonly ok: false; readonly reason: 'bad_signature' | 'expired' } {
  if (!macMatches(connectLinkSignature(keys, link.fields), link.sig))
    return { ok: false, reason: 'bad_signature' };
  if (link.fields.exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true };
}

/** What a signed redirect says: the outcome, and what the connector knows of the flow. */
export interface RedirectClaims {
  /** `connected` on the success URL; `failed` or `cancelled` on the failure URL. */
  readonly outcome: 'connected' | 'failed' | 'cancelled';
  readonly realmId?: string;
  readonly tenantId?: string;
  readonly ref?: string;
}

function redirectCanonical(claims: RedirectClaims, ts: number): string {
  return [
    'v1',
    claims.outcome,
    claims.realmId ?? '',
    claims.tenantId ?? '',
    claims.ref ?? '',
    String(ts),
  ].join('\n');
}

/**
 * The `ts` and `sig` parameters for a redirect to the app: HMAC-SHA256 under the redirect key over
 * "v1\n" + outcome + "\n" + realmId + "\n" + tenantId + "\n" + ref + "\n" + ts (absent ones empty).
 */
export function redirectSignature(keys: ConnectLinkKeys, claims: RedirectClaims, ts: number): string {
  return mac(keys.redirect, redirectCanonical(claims, ts));
}

/**
 * Checks the query string an app's success or failure URL received. The success URL carries no
 * `outcome` (it is `connected`); any parameter the connector did not sign makes no difference.
 */
export function verifyRedirectQuery(
  keys: ConnectLinkKeys,
  rawQuery: string,
  nowMs: number,
): { readonly valid: true; readonly claims: RedirectClaims } | { readonly valid: false } {
  const query = new URLSearchParams(rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery);
  const single = (name: string): string | undefined | null => {
    const all = query.getAll(name);
    return all.length === 0 ? undefined : all.length === 1 ? (all[0] ?? null) : null;
  };
  const [outcome, realmId, tenantId, ref, ts, sig] = [
    'outcome',
    'realmId',
    'tenantId',
    'ref',
    'ts',
    'sig',
  ].map(single);
  if ([outcome, realmId, tenantId, ref, ts, sig].includes(null)) return { valid: false };
  if (ts === undefined || sig === undefined || ts === null || sig === null || !EPOCH_SECONDS.test(ts))
    return { valid: false };
  const claimedOutcome = outcome ?? 'connected';
  if (claimedOutcome !== 'connected' && claimedOutcome !== 'failed' && claimedOutcome !== 'cancelled')
    return { valid: false };
  const nowSeconds = Math.floor(nowMs / 1000);
  const age = nowSeconds - Number(ts);
  if (age > REDIRECT_SIGNATURE_MAX_AGE_SECONDS || age < -REDIRECT_FUTURE_SKEW_SECONDS)
    return { valid: false };
  const claims: RedirectClaims = {
    outcome: claimedOutcome,
    ...(realmId != null ? { realmId } : {}),
    ...(tenantId != null ? { tenantId } : {}),
    ...(ref != null ? { ref } : {}),
  };
  if (!macMatches(redirectSignature(keys, claims, Number(ts)), sig)) return { valid: false };
  return { valid: true, claims };
}

/** A secret's text as key material, refused when too short to be one. */
export function connectLinkSecretBytes(secret: string, source: string): Uint8Array | string {
  if (secret.length < MIN_CONNECT_LINK_SECRET_LENGTH)
    return `${source} must be at least ${MIN_CONNECT_LINK_SECRET_LENGTH} characters`;
  return Buffer.from(secret, 'utf8');
}
