/**
 * The Intuit emulator's OAuth model: clients, codes, the grants they bind to a company, tokens,
 * rotation, revocation, CompanyInfo's authorisation decision and the request records. It knows no
 * sockets, so the rules the connector's guarantees are tested against can be unit-tested with an
 * injected clock; the HTTP layer writes the plain results it returns.
 *
 * Deliberate choices where Intuit's behaviour is unconfirmed, picked so that a connector that passes
 * here is safe against either real answer:
 * - a code is burnt by any authenticated presentation, even one rejected for an expired code, another
 *   client or a redirect_uri mismatch;
 * - a rotated refresh token dies at once (no grace period);
 * - revoking any token disconnects the whole grant: its pair and every token refreshed from it;
 * - revoking a token of a grant already revoked, or whose latest refresh token has expired, answers
 *   400 with an empty body (as Intuit often does) and changes nothing;
 * - CompanyInfo checks the token before the realm, so a dead token is a 401 even for another company.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { authenticationFault, authorizationFault, invalidGrant, invalidRequest } from './intuit-errors';
import { RequestRecords } from './records';

/** A registered app: the credentials the token endpoint checks and the redirect URIs it may use. */
export interface EmulatedClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** The name the consent page shows for this app, as Intuit shows the app's registered name. */
  appName?: string;
}

/**
 * Where a refresh token stands: `rotated` once a refresh replaced it, `revoked` once its grant was
 * revoked (by a revocation, a replayed code or a disconnect; this wins over the others), `expired`
 * past its lifetime, `unknown` when the emulator never issued it as a refresh token.
 */
export type RefreshTokenState = 'active' | 'rotated' | 'revoked' | 'expired' | 'unknown';

/** What the model is configured with; every lifetime and the clock have defaults. */
export interface OAuthModelOptions {
  clients: EmulatedClient[];
  codeLifetimeMs?: number;
  accessTokenLifetimeS?: number;
  refreshTokenLifetimeS?: number;
  /** realmId of the company the consent page preselects and issueCode binds by default. */
  realmId?: string;
  /**
   * The companies (realmId -> CompanyName) a user may pick on the consent page; the default realm is
   * always among them, named `Sandbox Company_US_1` unless given here.
   */
  companies?: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch; injected so expiry can be tested without waiting. */
  now?: () => number;
}

/** The model's verdict on one request: what the HTTP layer writes, and the outcome it records. */
export interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  outcome: string;
}

/** A revocation answers with an empty body when it succeeds. */
export interface RevocationAnswer {
  status: number;
  body: Record<string, unknown> | null;
  outcome: string;
}

/** The parts of a token request the model judges; transport details stay in the HTTP layer. */
export interface TokenRequest {
  /** The Authorization header, as sent. */
  authorization: string | undefined;
  /** Whether the caller asked for `x_refresh_token_hard_expires_in`. */
  withHardCap: boolean;
  form: URLSearchParams;
}

/** Realm ids are digits; anything else could never pass the CompanyInfo route. */
export const REALM_ID_PATTERN = /^\d+$/;

const DEFAULT_CODE_LIFETIME_MS = 600_000;
const DEFAULT_ACCESS_TOKEN_LIFETIME_S = 3600;
const DEFAULT_REFRESH_TOKEN_LIFETIME_S = 8_726_400;
const DEFAULT_REALM_ID = '9130357766125098';
/** Intuit's hard cap on a refresh token chain since 2025-11, counted from the first exchange. */
const REFRESH_HARD_LIFETIME_S = 5 * 365 * 24 * 60 * 60;
const DEFAULT_COMPANY_NAME = 'Sandbox Company_US_1';

/** Everything one consent (or issueCode) produced; revoking it kills every token derived from it. */
interface Grant {
  readonly clientId: string;
  readonly realmId: string;
  readonly hardExpiresAt: number;
  /** When the grant's latest refresh token expires: past it, nothing can renew the grant. */
  refreshExpiresAt: number;
  revoked: boolean;
}

interface CodeEntry {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly realmId: string;
  readonly expiresAt: number;
  used: boolean;
  /** Set by the exchange that succeeded, so a replay knows what to revoke. */
  grant: Grant | null;
}

interface TokenEntry {
  readonly kind: 'access' | 'refresh';
  readonly grant: Grant;
  readonly expiresAt: number;
  /** A refresh token dies when rotated, even though its grant lives on. */
  rotated: boolean;
}

/** Records name codes by this digest, so neither records nor logs ever hold a live code. */
export const sha256Hex = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');
const randomToken = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** Lifetimes are whole seconds, as `expires_in` is; anything else is a mistyped fixture. */
function lifetimeS(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new Error('Intuit emulator: token lifetimes are whole seconds, 0 or more');
  }
  return seconds;
}

/** Compares digests so that neither the length nor the content of a secret leaks through timing. */
function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The state of one emulated Intuit: what it has issued, what is still alive, what it was asked. */
export class OAuthModel {
  /** The clock every expiry and record time is read from. */
  readonly now: () => number;
  /** The realm the consent page preselects and issueCode binds by default. */
  readonly defaultRealmId: string;
  /** realmId -> CompanyName, the default realm first. */
  readonly companies: Map<string, string>;
  /** What was asked of the emulator, for tests to assert on. */
  readonly records = new RequestRecords();
  private readonly clients: Map<string, EmulatedClient>;
  private readonly codeLifetimeMs: number;
  private readonly configuredAccessTokenLifetimeS: number;
  private readonly configuredRefreshTokenLifetimeS: number;
  private accessTokenLifetimeS: number;
  private refreshTokenLifetimeS: number;

  private codes = new Map<string, CodeEntry>();
  private tokens = new Map<string, TokenEntry>();
  private grants = new Set<Grant>();

  constructor(opts: OAuthModelOptions) {
    this.now = opts.now ?? Date.now;
    this.clients = new Map(
      opts.clients.map((c) => [c.clientId, { ...c, redirectUris: [...c.redirectUris] }] as const),
    );
    this.codeLifetimeMs = opts.codeLifetimeMs ?? DEFAULT_CODE_LIFETIME_MS;
    this.configuredAccessTokenLifetimeS = lifetimeS(
      opts.accessTokenLifetimeS ?? DEFAULT_ACCESS_TOKEN_LIFETIME_S,
    );
    this.configuredRefreshTokenLifetimeS = lifetimeS(
      opts.refreshTokenLifetimeS ?? DEFAULT_REFRESH_TOKEN_LIFETIME_S,
    );
    this.accessTokenLifetimeS = this.configuredAccessTokenLifetimeS;
    this.refreshTokenLifetimeS = this.configuredRefreshTokenLifetimeS;
    this.defaultRealmId = opts.realmId ?? DEFAULT_REALM_ID;
    const companies = opts.companies ?? {};
    this.companies = new Map([
      [this.defaultRealmId, companies[this.defaultRealmId] ?? DEFAULT_COMPANY_NAME],
      ...Object.entries(companies).filter(([realmId]) => realmId !== this.defaultRealmId),
    ]);
    // A realm that is not all digits could never pass the CompanyInfo route; refuse it up front.
    for (const realmId of this.companies.keys()) {
      if (!REALM_ID_PATTERN.test(realmId)) throw new Error('Intuit emulator: realm ids must be digits');
    }
  }

  /** Adds a company a user may pick at consent (benchmarks give every flow its own). */
  addCompany(realmId: string, companyName: string): void {
    if (!REALM_ID_PATTERN.test(realmId)) throw new Error('Intuit emulator: realm ids must be digits');
    this.companies.set(realmId, companyName);
  }

  /** The name the client was registered with, if any. */
  appNameOf(clientId: string): string | undefined {
    return this.clients.get(clientId)?.appName;
  }

  /** The lifetime of access tokens issued from now on (until reset()). */
  setAccessTokenLifetime(seconds: number): void {
    this.accessTokenLifetimeS = lifetimeS(seconds);
  }

  /** The lifetime of refresh tokens issued from now on (until reset()), never past the hard cap. */
  setRefreshTokenLifetime(seconds: number): void {
    this.refreshTokenLifetimeS = lifetimeS(seconds);
  }

  /** Refuses, with the page's message, anything that does not prove the redirect_uri belongs to the client. */
  redirectRefusal(clientId: string, redirectUri: string): string | null {
    const client = this.clients.get(clientId);
    if (!client) return 'The app (client_id) is unknown.';
    if (!client.redirectUris.includes(redirectUri)) {
      return 'The redirect_uri is not registered for this app. It must match a registered one exactly.';
    }
    return null;
  }

  /**
   * Mints a code as if the user had consented, for `realmId` (the default realm when absent); throws
   * for an unknown client, an unregistered redirect URI or a realm that is not among the companies.
   */
  issueCode(opts: { clientId: string; redirectUri: string; realmId?: string }): string {
    const client = this.clients.get(opts.clientId);
    // Throwing surfaces a mistyped fixture at once instead of as a puzzling invalid_grant later.
    if (!client) throw new Error('issueCode: unknown clientId');
    if (!client.redirectUris.includes(opts.redirectUri)) {
      throw new Error('issueCode: redirectUri is not registered for this client');
    }
    const realmId = opts.realmId ?? this.defaultRealmId;
    if (!this.companies.has(realmId)) throw new Error('issueCode: realmId is not one of the companies');
    return this.mintCode(client.clientId, opts.redirectUri, realmId);
  }

  /** Mints a code for a consent the caller has already validated (client, redirect URI and realm). */
  mintCode(clientId: string, redirectUri: string, realmId: string): string {
    const code = randomToken(32);
    this.codes.set(code, {
      clientId,
      redirectUri,
      realmId,
      expiresAt: this.now() + this.codeLifetimeMs,
      used: false,
      grant: null,
    });
    return code;
  }

  isAccessTokenActive(token: string): boolean {
    return this.isActive(token, 'access');
  }

  isRefreshTokenActive(token: string): boolean {
    return this.isActive(token, 'refresh');
  }

  refreshTokenState(token: string): RefreshTokenState {
    const entry = this.tokens.get(token);
    if (entry === undefined || entry.kind !== 'refresh') return 'unknown';
    if (entry.grant.revoked) return 'revoked';
    if (entry.rotated) return 'rotated';
    if (entry.expiresAt <= this.now()) return 'expired';
    return 'active';
  }

  /**
   * What a user disconnecting the app inside QuickBooks causes: every live grant of the company,
   * of every client, is revoked. Returns how many were.
   */
  disconnectCompany(realmId: string): number {
    let revoked = 0;
    for (const grant of this.grants) {
      if (grant.realmId !== realmId || grant.revoked) continue;
      grant.revoked = true;
      revoked += 1;
    }
    return revoked;
  }

  /** Judges an authorization_code or refresh_token request; codes and tokens change as Intuit's would. */
  tokenRequest(request: TokenRequest): JsonAnswer {
    const client = this.authenticate(request.authorization);
    if (!client) return { status: 401, body: { error: 'invalid_client' }, outcome: 'invalid_client' };
    const grantType = request.form.get('grant_type');
    if (!grantType) return invalidRequest('grant_type missing');
    if (grantType === 'authorization_code') return this.exchangeCode(client, request);
    if (grantType === 'refresh_token') return this.refresh(client, request);
    return { status: 400, body: { error: 'unsupported_grant_type' }, outcome: 'unsupported_grant_type' };
  }

  /** `token` is null when the request carried none it could read. */
  revoke(authorization: string | undefined, token: string | null): RevocationAnswer {
    const client = this.authenticate(authorization);
    if (!client) return { status: 401, body: { error: 'invalid_client' }, outcome: 'invalid_client' };
    if (token === null)
      return { status: 400, body: { error: 'invalid_request' }, outcome: 'invalid_request' };
    const entry = this.tokens.get(token);
    // RFC 7009: an unknown token, or one of another client, is not an error worth revealing.
    if (entry === undefined || entry.grant.clientId !== client.clientId) {
      return { status: 200, body: null, outcome: 'unknown_token' };
    }
    if (entry.grant.revoked) return { status: 400, body: null, outcome: 'already_revoked' };
    if (entry.grant.refreshExpiresAt <= this.now()) {
      return { status: 400, body: null, outcome: 'expired_grant' };
    }
    entry.grant.revoked = true;
    return { status: 200, body: null, outcome: 'revoked' };
  }

  /** The token is judged before the realm, so a dead token answers 401 whichever company it names. */
  companyInfo(authorization: string | undefined, realmId: string, pathRealmId: string): JsonAnswer {
    if (!REALM_ID_PATTERN.test(realmId) || realmId !== pathRealmId) {
      return {
        status: 400,
        body: {
          Fault: { Error: [{ Message: 'Invalid company id', code: '4000' }], type: 'ValidationFault' },
        },
        outcome: 'bad_request',
      };
    }
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    const entry = token === undefined ? undefined : this.tokens.get(token);
    if (token === undefined || entry === undefined || !this.isAccessTokenActive(token)) {
      return { status: 401, body: authenticationFault(this.now()), outcome: 'invalid_token' };
    }
    const companyName = this.companies.get(realmId);
    if (entry.grant.realmId !== realmId || companyName === undefined) {
      return { status: 403, body: authorizationFault(this.now()), outcome: 'realm_mismatch' };
    }
    return {
      status: 200,
      body: {
        CompanyInfo: {
          CompanyName: companyName,
          LegalName: companyName,
          Id: '1',
          Country: 'US',
          SyncToken: '0',
          domain: 'QBO',
          sparse: false,
        },
        time: new Date(this.now()).toISOString(),
      },
      outcome: 'ok',
    };
  }

  /** Forgets all codes, tokens, grants, records and counts, and restores the configured lifetimes. */
  reset(): void {
    this.codes = new Map();
    this.tokens = new Map();
    this.grants = new Set();
    this.records.reset();
    this.accessTokenLifetimeS = this.configuredAccessTokenLifetimeS;
    this.refreshTokenLifetimeS = this.configuredRefreshTokenLifetimeS;
  }

  private isActive(token: string, kind: TokenEntry['kind']): boolean {
    const entry = this.tokens.get(token);
    return (
      entry !== undefined &&
      entry.kind === kind &&
      !entry.rotated &&
      !entry.grant.revoked &&
      entry.expiresAt > this.now()
    );
  }

  private authenticate(header: string | undefined): EmulatedClient | null {
    const match = /^Basic\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return null;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const client = this.clients.get(decoded.slice(0, colon));
    if (!client || !secretsEqual(decoded.slice(colon + 1), client.clientSecret)) return null;
    return client;
  }

  private exchangeCode(client: EmulatedClient, request: TokenRequest): JsonAnswer {
    const code = request.form.get('code');
    const redirectUri = request.form.get('redirect_uri');
    if (!code || !redirectUri) return invalidRequest('code or redirect_uri missing');
    const entry = this.codes.get(code);
    if (!entry) return invalidGrant('unknown_code');
    if (entry.used) {
      // Intuit's documented reaction to a replayed code: the first exchange's tokens die too.
      if (entry.grant) entry.grant.revoked = true;
      return invalidGrant('replay');
    }
    entry.used = true;
    if (this.now() >= entry.expiresAt) return invalidGrant('expired_code');
    if (entry.clientId !== client.clientId) return invalidGrant('client_mismatch');
    if (entry.redirectUri !== redirectUri) return invalidGrant('redirect_uri_mismatch');

    const now = this.now();
    const grant: Grant = {
      clientId: client.clientId,
      realmId: entry.realmId,
      hardExpiresAt: now + REFRESH_HARD_LIFETIME_S * 1000,
      refreshExpiresAt: now,
      revoked: false,
    };
    entry.grant = grant;
    this.grants.add(grant);
    return { status: 200, body: this.issueTokens(grant, now, request.withHardCap), outcome: 'issued' };
  }

  private refresh(client: EmulatedClient, request: TokenRequest): JsonAnswer {
    const refreshToken = request.form.get('refresh_token');
    if (!refreshToken) return invalidRequest('refresh_token missing');
    const entry = this.tokens.get(refreshToken);
    if (!entry || !this.isRefreshTokenActive(refreshToken) || entry.grant.clientId !== client.clientId) {
      return invalidGrant('invalid_refresh_token', 'Incorrect or invalid refresh token');
    }
    entry.rotated = true;
    return {
      status: 200,
      body: this.issueTokens(entry.grant, this.now(), request.withHardCap),
      outcome: 'refreshed',
    };
  }

  private issueTokens(grant: Grant, now: number, withHardCap: boolean): Record<string, unknown> {
    const hardRemainingS = Math.floor((grant.hardExpiresAt - now) / 1000);
    const refreshLifetimeS = Math.min(this.refreshTokenLifetimeS, hardRemainingS);
    const accessToken = randomToken(48);
    const refreshToken = `AB11${randomToken(36)}`;
    this.tokens.set(accessToken, {
      kind: 'access',
      grant,
      expiresAt: now + this.accessTokenLifetimeS * 1000,
      rotated: false,
    });
    this.tokens.set(refreshToken, {
      kind: 'refresh',
      grant,
      expiresAt: now + refreshLifetimeS * 1000,
      rotated: false,
    });
    grant.refreshExpiresAt = now + refreshLifetimeS * 1000;
    return {
      token_type: 'bearer',
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: this.accessTokenLifetimeS,
      x_refresh_token_expires_in: refreshLifetimeS,
      ...(withHardCap ? { x_refresh_token_hard_expires_in: hardRemainingS } : {}),
    };
  }
}
