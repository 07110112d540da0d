/**
 * An in-process stand-in for Intuit's OAuth 2.0 server and for the one QuickBooks API call the
 * connector makes (CompanyInfo, to prove a new token belongs to the callback's realmId), following
 * Intuit's documented behaviour, for local runs and tests only: production and sandbox are
 * unreachable from here, and the connector's exactly-once guarantees can only be tested against
 * something that punishes a second exchange the way Intuit does. Never bundled into a Lambda.
 *
 * Deliberate choices where Intuit's behaviour is unconfirmed, picked so that a connector that passes
 * here is safe against either real answer:
 * - a code is burnt by any authenticated presentation, even one rejected for an expired code, another
 *   client or a redirect_uri mismatch;
 * - a rotated refresh token dies at once (no grace period);
 * - revoking any token disconnects the whole grant: its pair and every token refreshed from it;
 * - CompanyInfo checks the token before the realm, so a dead token is a 401 even for another company.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { URL, URLSearchParams } from 'node:url';

export interface EmulatorOptions {
  port?: number;
  clients: Array<{ clientId: string; clientSecret: string; redirectUris: string[] }>;
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
  /** The app name the consent page shows; the client id when absent. */
  appName?: string;
  /** Receives one line per request; lines carry code hash prefixes, never codes, tokens or secrets. */
  log?: (line: string) => void;
}

export type FaultMode =
  | 'none'
  | 'latency'
  | 'status500'
  | 'status503'
  | 'status429'
  | 'hang'
  | 'reset-after-consume'
  | 'malformed'
  | 'invalid-client';

export interface Fault {
  mode: FaultMode;
  latencyMs?: number;
  /** How many token requests the fault affects before it clears itself; forever when absent. */
  times?: number;
}

export type CompanyInfoFaultMode =
  | 'none'
  | 'latency'
  | 'status401'
  | 'status403'
  | 'wrong-cluster'
  | 'status500'
  | 'status503'
  | 'status429'
  | 'hang'
  | 'reset';

export interface CompanyInfoFault {
  mode: CompanyInfoFaultMode;
  latencyMs?: number;
  /** How many CompanyInfo requests the fault affects before it clears itself; forever when absent. */
  times?: number;
}

export interface CompanyInfoRequestRecord {
  /** The first realm id of the request path, as sent. */
  realmId: string;
  /** The `minorversion` query parameter, when one was sent. */
  minorVersion?: string;
  at: number;
  /** 0 when no response was (or will ever be) sent: `hang` and `reset`. */
  status: number;
  /**
   * `ok`, `realm_mismatch`, `invalid_token`, `bad_request`, `method_not_allowed` or `fault:<mode>`;
   * `latency` records the outcome of the delayed answer.
   */
  outcome: string;
}

export interface TokenRequestRecord {
  grantType: string;
  /** SHA-256 hex of the `code` parameter, when one was sent. */
  codeHash?: string;
  at: number;
  /** 0 when no response was (or will ever be) sent: `hang` and `reset-after-consume`. */
  status: number;
  /** e.g. `issued`, `invalid_grant:replay`, `fault:status503`, `hang:issued`. */
  outcome: string;
}

export interface IntuitEmulator {
  readonly url: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string;
  /** Base URL of the QuickBooks Accounting API (no trailing slash), as `/v3/company/...` is appended. */
  readonly apiBaseUrl: string;
  /** Applies to the token endpoint only. */
  setFault(f: Fault): void;
  clearFault(): void;
  /** Every request to the token endpoint, in order of arrival. */
  tokenRequests(): TokenRequestRecord[];
  /** Applies to the CompanyInfo endpoint only. */
  setCompanyInfoFault(f: CompanyInfoFault): void;
  clearCompanyInfoFault(): void;
  /** Every request to the CompanyInfo endpoint, in order of arrival. */
  companyInfoRequests(): CompanyInfoRequestRecord[];
  /** How many requests reached the revocation endpoint, whatever their outcome. */
  revocationRequests(): number;
  /** authorization_code requests, optionally for one code hash. */
  exchangeCount(codeHash?: string): number;
  isAccessTokenActive(token: string): boolean;
  isRefreshTokenActive(token: string): boolean;
  /**
   * Mints a code as if the user had consented on the authorization page, for `realmId` (the default
   * realm when absent); throws for a realm that is not among the companies.
   */
  issueCode(opts: { clientId: string; redirectUri: string; realmId?: string }): string;
  /** Forgets all codes, tokens, records, counts and faults. */
  reset(): void;
  close(): Promise<void>;
}

const AUTHORIZE_PATH = '/connect/oauth2';
const DECISION_PATH = '/connect/oauth2/decision';
const TOKEN_PATH = '/oauth2/v1/tokens/bearer';
const REVOKE_PATH = '/v2/oauth2/tokens/revoke';
const COMPANY_INFO_PATH = /^\/v3\/company\/([^/]+)\/companyinfo\/([^/]+)$/;
const REALM_ID_PATTERN = /^\d+$/;

const DEFAULT_CODE_LIFETIME_MS = 600_000;
const DEFAULT_ACCESS_TOKEN_LIFETIME_S = 3600;
const DEFAULT_REFRESH_TOKEN_LIFETIME_S = 8_726_400;
const DEFAULT_REALM_ID = '9130357766125098';
/** Intuit's hard cap on a refresh token chain since 2025-11, counted from the first exchange. */
const REFRESH_HARD_LIFETIME_S = 5 * 365 * 24 * 60 * 60;
const DEFAULT_COMPANY_NAME = 'Sandbox Company_US_1';
const MAX_BODY_BYTES = 64 * 1024;

type Client = EmulatorOptions['clients'][number];
type Socket = IncomingMessage['socket'];

/** Everything one consent (or issueCode) produced; revoking it kills every token derived from it. */
interface Grant {
  readonly clientId: string;
  readonly realmId: string;
  readonly hardExpiresAt: number;
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

interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  outcome: string;
}

/** A fault as set, with the number of requests it still affects (null: until cleared). */
interface ArmedFault<Mode extends string> {
  readonly mode: Mode;
  readonly latencyMs: number;
  remaining: number | null;
}

/** What one request contributes to the log line: the status (or why there is none) and an outcome. */
type LogResult = [status: number | 'no-response', detail: string];

class BodyTooLargeError extends Error {}

function armFault<Mode extends string>(f: {
  mode: Mode | 'none';
  latencyMs?: number;
  times?: number;
}): ArmedFault<Mode> | null {
  if (f.mode === 'none' || (f.times !== undefined && f.times <= 0)) return null;
  return { mode: f.mode as Mode, latencyMs: f.latencyMs ?? 0, remaining: f.times ?? null };
}

/** Counts one affected request; true when that was the fault's last. */
function spendOnce(fault: ArmedFault<string>): boolean {
  if (fault.remaining === null) return false;
  fault.remaining -= 1;
  return fault.remaining <= 0;
}

const sha256Hex = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');
const randomToken = (bytes: number): string => randomBytes(bytes).toString('base64url');
const newIntuitTid = (): string => `1-${randomBytes(12).toString('hex')}`;

/** Compares digests so that neither the length nor the content of a secret leaks through timing. */
function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function appendQuery(base: string, params: URLSearchParams): string {
  if (!base.includes('?')) return `${base}?${params.toString()}`;
  const separator = base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${params.toString()}`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining rather than destroying, so the client still receives the 413.
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new BodyTooLargeError('request body too large'));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

const PAGE_STYLE =
  'body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f8;color:#1b1b1b}' +
  'main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;' +
  'box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:1.4rem}' +
  'button{font-size:1rem;padding:.6rem 1.4rem;margin-right:.8rem;border-radius:4px;border:1px solid #0b6e0b;cursor:pointer}' +
  'button[value=allow]{background:#0b6e0b;color:#fff}button[value=deny]{background:#fff;color:#0b6e0b}' +
  'button:focus-visible{outline:3px solid #0077c5;outline-offset:2px}';

function renderPage(title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
${content}
</main>
</body>
</html>
`;
}

function renderConsentPage(p: {
  appName: string;
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
  companies: ReadonlyMap<string, string>;
  defaultRealmId: string;
}): string {
  const hidden = (name: string, value: string): string =>
    `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  // No whitespace between options, so the select's text is just the company names.
  const options = [...p.companies]
    .map(
      ([realmId, name]) =>
        `<option value="${realmId}"${realmId === p.defaultRealmId ? ' selected' : ''}>${escapeHtml(name)}</option>`,
    )
    .join('');
  return renderPage(
    'Connect to QuickBooks - Intuit emulator',
    `<h1>Intuit emulator — ${escapeHtml(p.appName)} wants to connect to your QuickBooks company</h1>
<p>Requested access: <code>${escapeHtml(p.scope)}</code></p>
<form method="post" action="${DECISION_PATH}">
${hidden('client_id', p.clientId)}
${hidden('redirect_uri', p.redirectUri)}
${hidden('state', p.state)}
${hidden('scope', p.scope)}
<p><label for="realm_id">Company</label>
<select id="realm_id" name="realm_id">${options}</select></p>
<button name="decision" value="allow">Connect</button>
<button name="decision" value="deny">Cancel</button>
</form>`,
  );
}

function renderErrorPage(message: string): string {
  return renderPage(
    'Error - Intuit emulator',
    `<h1>Intuit emulator — this connection request cannot be completed</h1>\n<p>${escapeHtml(message)}</p>`,
  );
}

class Emulator implements IntuitEmulator {
  private port = 0;
  private readonly clients: Map<string, Client>;
  private readonly codeLifetimeMs: number;
  private readonly accessTokenLifetimeS: number;
  private readonly refreshTokenLifetimeS: number;
  private readonly realmId: string;
  /** realmId -> CompanyName, the default realm first. */
  private readonly companies: ReadonlyMap<string, string>;
  private readonly appName: string | undefined;
  private readonly log: (line: string) => void;

  private codes = new Map<string, CodeEntry>();
  private tokens = new Map<string, TokenEntry>();
  private records: TokenRequestRecord[] = [];
  private companyInfoRecords: CompanyInfoRequestRecord[] = [];
  private revocationCount = 0;
  private fault: ArmedFault<FaultMode> | null = null;
  private companyInfoFault: ArmedFault<CompanyInfoFaultMode> | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly server: Server,
    opts: EmulatorOptions,
  ) {
    this.clients = new Map(
      opts.clients.map((c) => [c.clientId, { ...c, redirectUris: [...c.redirectUris] }] as const),
    );
    this.codeLifetimeMs = opts.codeLifetimeMs ?? DEFAULT_CODE_LIFETIME_MS;
    this.accessTokenLifetimeS = opts.accessTokenLifetimeS ?? DEFAULT_ACCESS_TOKEN_LIFETIME_S;
    this.refreshTokenLifetimeS = opts.refreshTokenLifetimeS ?? DEFAULT_REFRESH_TOKEN_LIFETIME_S;
    this.realmId = opts.realmId ?? DEFAULT_REALM_ID;
    const companies = opts.companies ?? {};
    this.companies = new Map([
      [this.realmId, companies[this.realmId] ?? DEFAULT_COMPANY_NAME],
      ...Object.entries(companies).filter(([realmId]) => realmId !== this.realmId),
    ]);
    // A realm that is not all digits could never pass the CompanyInfo route; refuse it up front.
    for (const realmId of this.companies.keys()) {
      if (!REALM_ID_PATTERN.test(realmId)) throw new Error('Intuit emulator: realm ids must be digits');
    }
    this.appName = opts.appName;
    this.log = opts.log ?? (() => {});

    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res);
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get authorizationEndpoint(): string {
    return `${this.url}${AUTHORIZE_PATH}`;
  }

  get tokenEndpoint(): string {
    return `${this.url}${TOKEN_PATH}`;
  }

  get revocationEndpoint(): string {
    return `${this.url}${REVOKE_PATH}`;
  }

  get apiBaseUrl(): string {
    return this.url;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') {
      await this.close();
      throw new Error('Intuit emulator: could not determine the listening port');
    }
    this.port = address.port;
  }

  setFault(f: Fault): void {
    this.fault = armFault(f);
  }

  clearFault(): void {
    this.fault = null;
  }

  setCompanyInfoFault(f: CompanyInfoFault): void {
    this.companyInfoFault = armFault(f);
  }

  clearCompanyInfoFault(): void {
    this.companyInfoFault = null;
  }

  tokenRequests(): TokenRequestRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  companyInfoRequests(): CompanyInfoRequestRecord[] {
    return this.companyInfoRecords.map((r) => ({ ...r }));
  }

  revocationRequests(): number {
    return this.revocationCount;
  }

  exchangeCount(codeHash?: string): number {
    return this.records.filter(
      (r) => r.grantType === 'authorization_code' && (codeHash === undefined || r.codeHash === codeHash),
    ).length;
  }

  isAccessTokenActive(token: string): boolean {
    return this.isActive(token, 'access');
  }

  isRefreshTokenActive(token: string): boolean {
    return this.isActive(token, 'refresh');
  }

  issueCode(opts: { clientId: string; redirectUri: string; realmId?: string }): string {
    const client = this.clients.get(opts.clientId);
    // Throwing surfaces a mistyped fixture at once instead of as a puzzling invalid_grant later.
    if (!client) throw new Error('issueCode: unknown clientId');
    if (!client.redirectUris.includes(opts.redirectUri)) {
      throw new Error('issueCode: redirectUri is not registered for this client');
    }
    const realmId = opts.realmId ?? this.realmId;
    if (!this.companies.has(realmId)) throw new Error('issueCode: realmId is not one of the companies');
    return this.mintCode(client.clientId, opts.redirectUri, realmId);
  }

  reset(): void {
    this.codes = new Map();
    this.tokens = new Map();
    this.records = [];
    this.companyInfoRecords = [];
    this.revocationCount = 0;
    this.fault = null;
    this.companyInfoFault = null;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.server.close(() => resolve());
      // server.close() waits for open connections; hung and keep-alive sockets would keep jest alive.
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    });
    return this.closing;
  }

  private isActive(token: string, kind: TokenEntry['kind']): boolean {
    const entry = this.tokens.get(token);
    return (
      entry !== undefined &&
      entry.kind === kind &&
      !entry.rotated &&
      !entry.grant.revoked &&
      entry.expiresAt > Date.now()
    );
  }

  private mintCode(clientId: string, redirectUri: string, realmId: string): string {
    const code = randomToken(32);
    this.codes.set(code, {
      clientId,
      redirectUri,
      realmId,
      expiresAt: Date.now() + this.codeLifetimeMs,
      used: false,
      grant: null,
    });
    return code;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tid = newIntuitTid();
    res.setHeader('intuit_tid', tid);
    const path = new URL(req.url ?? '/', this.url).pathname;
    const method = req.method ?? 'GET';
    // Only the path is logged: the query string carries codes and state values.
    const logLine = (status: LogResult[0], detail: string): void =>
      this.log(`${method} ${path} -> ${status} ${detail} intuit_tid=${tid}`);
    try {
      if (path === AUTHORIZE_PATH) {
        if (!this.allowMethod(req, res, 'GET')) return logLine(405, 'method_not_allowed');
        return logLine(...this.handleAuthorize(req, res));
      }
      if (path === DECISION_PATH) {
        if (!this.allowMethod(req, res, 'POST')) return logLine(405, 'method_not_allowed');
        return logLine(...this.handleDecision(await readBody(req), res));
      }
      if (path === TOKEN_PATH) {
        return logLine(...(await this.handleToken(req, res)));
      }
      if (path === REVOKE_PATH) {
        this.revocationCount += 1;
        if (!this.allowMethod(req, res, 'POST')) return logLine(405, 'method_not_allowed');
        return logLine(...this.handleRevoke(req, await readBody(req), res));
      }
      const companyInfoPath = COMPANY_INFO_PATH.exec(path);
      if (companyInfoPath) {
        return logLine(
          ...(await this.handleCompanyInfo(req, res, companyInfoPath[1] ?? '', companyInfoPath[2] ?? '')),
        );
      }
      sendJson(res, 404, { error: 'not_found' });
      return logLine(404, 'not_found');
    } catch (err) {
      const tooLarge = err instanceof BodyTooLargeError;
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, tooLarge ? 413 : 500, { error: tooLarge ? 'invalid_request' : 'server_error' });
      }
      // Our own error messages never contain request data, so they are safe to log.
      return logLine(tooLarge ? 413 : 500, err instanceof Error ? err.message : 'unexpected error');
    }
  }

  private allowMethod(req: IncomingMessage, res: ServerResponse, method: string): boolean {
    if (req.method === method) return true;
    res.setHeader('Allow', method);
    sendJson(res, 405, { error: 'method_not_allowed' });
    return false;
  }

  /** Refuses, without redirecting, anything that does not prove the redirect_uri belongs to the client. */
  private registeredRedirect(clientId: string, redirectUri: string): string | null {
    const client = this.clients.get(clientId);
    if (!client) return 'The app (client_id) is unknown.';
    if (!client.redirectUris.includes(redirectUri)) {
      return 'The redirect_uri is not registered for this app. It must match a registered one exactly.';
    }
    return null;
  }

  private handleAuthorize(req: IncomingMessage, res: ServerResponse): LogResult {
    const query = new URL(req.url ?? '/', this.url).searchParams;
    const clientId = query.get('client_id') ?? '';
    const redirectUri = query.get('redirect_uri') ?? '';
    const state = query.get('state') ?? '';
    const scope = query.get('scope') ?? '';
    const refusal = this.registeredRedirect(clientId, redirectUri);
    if (refusal !== null) {
      sendHtml(res, 400, renderErrorPage(refusal));
      return [400, 'unregistered_client_or_redirect_uri'];
    }
    const responseType = query.get('response_type');
    if (responseType !== 'code') {
      const error = responseType ? 'unsupported_response_type' : 'invalid_request';
      redirectWith(res, redirectUri, { error, state });
      return [302, error];
    }
    if (scope.trim() === '') {
      redirectWith(res, redirectUri, { error: 'invalid_request', state });
      return [302, 'invalid_request'];
    }
    sendHtml(
      res,
      200,
      renderConsentPage({
        appName: this.appName ?? clientId,
        clientId,
        redirectUri,
        state,
        scope,
        companies: this.companies,
        defaultRealmId: this.realmId,
      }),
    );
    return [200, 'consent_page'];
  }

  private handleDecision(body: string, res: ServerResponse): LogResult {
    const form = new URLSearchParams(body);
    const clientId = form.get('client_id') ?? '';
    const redirectUri = form.get('redirect_uri') ?? '';
    const state = form.get('state') ?? '';
    const refusal = this.registeredRedirect(clientId, redirectUri);
    if (refusal !== null) {
      sendHtml(res, 400, renderErrorPage(refusal));
      return [400, 'unregistered_client_or_redirect_uri'];
    }
    const decision = form.get('decision');
    if (decision === 'deny') {
      redirectWith(res, redirectUri, { error: 'access_denied', state });
      return [302, 'access_denied'];
    }
    if (decision !== 'allow') {
      sendHtml(res, 400, renderErrorPage('Choose Connect or Cancel.'));
      return [400, 'invalid_decision'];
    }
    const realmId = form.get('realm_id') ?? this.realmId;
    if (!this.companies.has(realmId)) {
      sendHtml(res, 400, renderErrorPage('The chosen company (realm_id) is unknown.'));
      return [400, 'unknown_realm'];
    }
    if ((form.get('scope') ?? '').trim() === '') {
      redirectWith(res, redirectUri, { error: 'invalid_request', state });
      return [302, 'invalid_request'];
    }
    const code = this.mintCode(clientId, redirectUri, realmId);
    redirectWith(res, redirectUri, { code, state, realmId });
    return [302, `code_issued code_sha256=${sha256Hex(code).slice(0, 8)}`];
  }

  private async handleToken(req: IncomingMessage, res: ServerResponse): Promise<LogResult> {
    const record: TokenRequestRecord = { grantType: '', at: Date.now(), status: 0, outcome: 'pending' };
    const finish = (status: number, outcome: string): LogResult => {
      record.status = status;
      record.outcome = outcome;
      const hash = record.codeHash ? ` code_sha256=${record.codeHash.slice(0, 8)}` : '';
      return [status === 0 ? 'no-response' : status, `grant=${record.grantType || '-'}${hash} ${outcome}`];
    };

    if (req.method !== 'POST') {
      this.records.push(record);
      this.allowMethod(req, res, 'POST');
      return finish(405, 'method_not_allowed');
    }
    const form = new URLSearchParams(await readBody(req));
    record.grantType = form.get('grant_type') ?? '';
    const code = form.get('code');
    if (code) record.codeHash = sha256Hex(code);
    this.records.push(record);

    const fault = this.takeFault();
    switch (fault?.mode) {
      case undefined:
      case 'none': {
        const result = this.processTokenRequest(req, form);
        sendJson(res, result.status, result.body);
        return finish(result.status, result.outcome);
      }
      case 'latency': {
        await this.sleep(fault.latencyMs);
        const result = this.processTokenRequest(req, form);
        sendJson(res, result.status, result.body);
        return finish(result.status, result.outcome);
      }
      // Server-side failures that never reach the code ledger, so the code stays exchangeable.
      case 'status500':
        sendHtml(res, 500, renderErrorPage('Internal Server Error'));
        return finish(500, 'fault:status500');
      case 'status503':
        sendHtml(res, 503, renderErrorPage('Service Unavailable'));
        return finish(503, 'fault:status503');
      case 'status429':
        res.setHeader('Retry-After', '1');
        sendJson(res, 429, { error: 'throttled', error_description: 'Too many requests' });
        return finish(429, 'fault:status429');
      case 'invalid-client':
        sendJson(res, 401, { error: 'invalid_client' });
        return finish(401, 'fault:invalid-client');
      case 'hang': {
        // The exchange happens; only the answer is lost. close() destroys the socket.
        const result = this.processTokenRequest(req, form);
        return finish(0, `hang:${result.outcome}`);
      }
      case 'reset-after-consume': {
        const result = this.processTokenRequest(req, form);
        res.destroy();
        return finish(0, `reset-after-consume:${result.outcome}`);
      }
      case 'malformed': {
        const result = this.processTokenRequest(req, form);
        sendJson(res, 200, { access_token: 123 });
        return finish(200, `malformed:${result.outcome}`);
      }
    }
  }

  private takeFault(): ArmedFault<FaultMode> | null {
    const fault = this.fault;
    if (fault !== null && spendOnce(fault)) this.fault = null;
    return fault;
  }

  private takeCompanyInfoFault(): ArmedFault<CompanyInfoFaultMode> | null {
    const fault = this.companyInfoFault;
    if (fault !== null && spendOnce(fault)) this.companyInfoFault = null;
    return fault;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private authenticate(header: string | undefined): Client | null {
    const match = /^Basic\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return null;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const client = this.clients.get(decoded.slice(0, colon));
    if (!client || !secretsEqual(decoded.slice(colon + 1), client.clientSecret)) return null;
    return client;
  }

  private processTokenRequest(req: IncomingMessage, form: URLSearchParams): JsonAnswer {
    const client = this.authenticate(req.headers.authorization);
    if (!client) return { status: 401, body: { error: 'invalid_client' }, outcome: 'invalid_client' };
    const withHardCap = req.headers['x-include-refresh-token-hard-expires-in'] === 'true';
    const grantType = form.get('grant_type');
    if (!grantType) return invalidRequest('grant_type missing');
    if (grantType === 'authorization_code') return this.exchangeCode(client, form, withHardCap);
    if (grantType === 'refresh_token') return this.refresh(client, form, withHardCap);
    return { status: 400, body: { error: 'unsupported_grant_type' }, outcome: 'unsupported_grant_type' };
  }

  private exchangeCode(client: Client, form: URLSearchParams, withHardCap: boolean): JsonAnswer {
    const code = form.get('code');
    const redirectUri = form.get('redirect_uri');
    if (!code || !redirectUri) return invalidRequest('code or redirect_uri missing');
    const entry = this.codes.get(code);
    if (!entry) return invalidGrant('unknown_code');
    if (entry.used) {
      // Intuit's documented reaction to a replayed code: the first exchange's tokens die too.
      if (entry.grant) entry.grant.revoked = true;
      return invalidGrant('replay');
    }
    entry.used = true;
    if (Date.now() >= entry.expiresAt) return invalidGrant('expired_code');
    if (entry.clientId !== client.clientId) return invalidGrant('client_mismatch');
    if (entry.redirectUri !== redirectUri) return invalidGrant('redirect_uri_mismatch');

    const now = Date.now();
    const grant: Grant = {
      clientId: client.clientId,
      realmId: entry.realmId,
      hardExpiresAt: now + REFRESH_HARD_LIFETIME_S * 1000,
      revoked: false,
    };
    entry.grant = grant;
    return { status: 200, body: this.issueTokens(grant, now, withHardCap), outcome: 'issued' };
  }

  private refresh(client: Client, form: URLSearchParams, withHardCap: boolean): JsonAnswer {
    const refreshToken = form.get('refresh_token');
    if (!refreshToken) return invalidRequest('refresh_token missing');
    const entry = this.tokens.get(refreshToken);
    if (!entry || !this.isRefreshTokenActive(refreshToken) || entry.grant.clientId !== client.clientId) {
      return invalidGrant('invalid_refresh_token', 'Incorrect or invalid refresh token');
    }
    entry.rotated = true;
    return {
      status: 200,
      body: this.issueTokens(entry.grant, Date.now(), withHardCap),
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
    return {
      token_type: 'bearer',
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: this.accessTokenLifetimeS,
      x_refresh_token_expires_in: refreshLifetimeS,
      ...(withHardCap ? { x_refresh_token_hard_expires_in: hardRemainingS } : {}),
    };
  }

  private async handleCompanyInfo(
    req: IncomingMessage,
    res: ServerResponse,
    realmId: string,
    pathRealmId: string,
  ): Promise<LogResult> {
    const minorVersion = new URL(req.url ?? '/', this.url).searchParams.get('minorversion');
    const record: CompanyInfoRequestRecord = {
      realmId,
      ...(minorVersion === null ? {} : { minorVersion }),
      at: Date.now(),
      status: 0,
      outcome: 'pending',
    };
    this.companyInfoRecords.push(record);
    const finish = (status: number, outcome: string): LogResult => {
      record.status = status;
      record.outcome = outcome;
      // The path is the caller's text; only a well-formed realm id is repeated in the detail.
      const realm = REALM_ID_PATTERN.test(realmId) ? realmId : 'invalid';
      return [status === 0 ? 'no-response' : status, `realm=${realm} ${outcome}`];
    };
    if (!this.allowMethod(req, res, 'GET')) return finish(405, 'method_not_allowed');

    const answer = (): LogResult => {
      const result = this.companyInfo(req.headers.authorization, realmId, pathRealmId);
      if (result.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
      sendJson(res, result.status, result.body);
      return finish(result.status, result.outcome);
    };
    const fault = this.takeCompanyInfoFault();
    switch (fault?.mode) {
      case undefined:
      case 'none':
        return answer();
      case 'latency':
        await this.sleep(fault.latencyMs);
        return answer();
      case 'status401':
        res.setHeader('WWW-Authenticate', 'Bearer');
        sendJson(res, 401, authenticationFault());
        return finish(401, 'fault:status401');
      case 'status403':
        sendJson(res, 403, authorizationFault());
        return finish(403, 'fault:status403');
      case 'wrong-cluster':
        sendJson(res, 403, {
          Fault: {
            Error: [
              {
                Message: 'message=Accessing Wrong Cluster; errorCode=007001; statusCode=403',
                code: '007001',
              },
            ],
            type: 'SERVICE',
          },
        });
        return finish(403, 'fault:wrong-cluster');
      case 'status500':
        sendHtml(res, 500, renderErrorPage('Internal Server Error'));
        return finish(500, 'fault:status500');
      case 'status503':
        sendHtml(res, 503, renderErrorPage('Service Unavailable'));
        return finish(503, 'fault:status503');
      case 'status429':
        res.setHeader('Retry-After', '1');
        sendJson(res, 429, { fault: { error: [{ message: 'ThrottleExceeded', code: '003001' }] } });
        return finish(429, 'fault:status429');
      case 'hang':
        // close() destroys the socket.
        return finish(0, 'fault:hang');
      case 'reset':
        res.destroy();
        return finish(0, 'fault:reset');
    }
  }

  /** The token is judged before the realm, so a dead token answers 401 whichever company it names. */
  private companyInfo(authorization: string | undefined, realmId: string, pathRealmId: string): JsonAnswer {
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
      return { status: 401, body: authenticationFault(), outcome: 'invalid_token' };
    }
    const companyName = this.companies.get(realmId);
    if (entry.grant.realmId !== realmId || companyName === undefined) {
      return { status: 403, body: authorizationFault(), outcome: 'realm_mismatch' };
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
        time: new Date().toISOString(),
      },
      outcome: 'ok',
    };
  }

  private handleRevoke(req: IncomingMessage, body: string, res: ServerResponse): LogResult {
    const client = this.authenticate(req.headers.authorization);
    if (!client) {
      sendJson(res, 401, { error: 'invalid_client' });
      return [401, 'invalid_client'];
    }
    const token = parseRevokeToken(req.headers['content-type'] ?? '', body);
    if (token === null) {
      sendJson(res, 400, { error: 'invalid_request' });
      return [400, 'invalid_request'];
    }
    const entry = this.tokens.get(token);
    // RFC 7009: an unknown token, or one of another client, is not an error worth revealing.
    if (entry && entry.grant.clientId === client.clientId) entry.grant.revoked = true;
    res.writeHead(200, { 'Cache-Control': 'no-store', 'Content-Length': '0' });
    res.end();
    return [200, entry ? 'revoked' : 'unknown_token'];
  }
}

function parseRevokeToken(contentType: string, body: string): string | null {
  let token: unknown;
  if (contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    token = new URLSearchParams(body).get('token');
  } else {
    try {
      const parsed: unknown = JSON.parse(body);
      token = typeof parsed === 'object' && parsed !== null ? (parsed as { token?: unknown }).token : null;
    } catch {
      return null;
    }
  }
  return typeof token === 'string' && token !== '' ? token : null;
}

/** Intuit's answer to a missing, unknown, expired or revoked access token (lower-case keys, as Intuit sends). */
function authenticationFault(): Record<string, unknown> {
  return {
    fault: {
      error: [
        {
          message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
          detail: 'Token invalid',
          code: '3200',
        },
      ],
      type: 'AUTHENTICATION',
    },
    time: new Date().toISOString(),
  };
}

/** Intuit's answer to a good token presented for a company it was not granted. */
function authorizationFault(): Record<string, unknown> {
  return {
    Fault: {
      Error: [
        {
          Message: 'message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403',
          Detail: 'The application is not authorized for this company',
          code: '003100',
        },
      ],
      type: 'SERVICE',
    },
    time: new Date().toISOString(),
  };
}

function invalidGrant(reason: string, description?: string): JsonAnswer {
  return {
    status: 400,
    body: description
      ? { error: 'invalid_grant', error_description: description }
      : { error: 'invalid_grant' },
    outcome: `invalid_grant:${reason}`,
  };
}

function invalidRequest(reason: string): JsonAnswer {
  return { status: 400, body: { error: 'invalid_request' }, outcome: `invalid_request:${reason}` };
}

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json;charset=UTF-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  });
  res.end(payload);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    // No form-action: browsers apply it to the redirect after the form post, which goes to the app.
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  });
  res.end(html);
}

function redirectWith(res: ServerResponse, redirectUri: string, params: Record<string, string>): void {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    // An absent state stays absent rather than coming back as an empty one.
    if (key === 'state' && value === '') continue;
    query.set(key, value);
  }
  res.writeHead(302, {
    Location: appendQuery(redirectUri, query),
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'Content-Length': '0',
  });
  res.end();
}

export async function startIntuitEmulator(opts: EmulatorOptions): Promise<IntuitEmulator> {
  // Handlers are attached before listening so that no early connection escapes socket tracking.
  const emulator = new Emulator(createServer(), opts);
  await emulator.listen(opts.port ?? 0);
  return emulator;
}
