/**
 * The emulator's HTTP server: routing to the endpoints, the intuit_tid header and log line on every
 * answer, and the socket and timer tracking that lets close() end even hung requests at once.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { URL } from 'node:url';
import { handleAuthorize, handleCompanyInfo, handleDecision, handleRevoke, handleToken } from './endpoints';
import type { EndpointContext, LogResult } from './endpoints';
import { FaultSwitches } from './faults';
import type { CompanyInfoFault, Fault, RevokeFault, TokenGrantType } from './faults';
import { OAuthModel } from './model';
import type { OAuthModelOptions, RefreshTokenState } from './model';
import { DECISION_PATH } from './pages';
import type { CompanyInfoRequestRecord, RevocationRequestRecord, TokenRequestRecord } from './records';
import { allowMethod, BodyTooLargeError, newIntuitTid, readBody, sendJson } from './wire';

export interface EmulatorOptions extends Omit<OAuthModelOptions, 'now'> {
  port?: number;
  /**
   * The app name the consent page shows for a client registered without its own `appName`; the
   * page never shows a client id.
   */
  appName?: string;
  /** Receives one line per request; lines carry code hash prefixes, never codes, tokens or secrets. */
  log?: (line: string) => void;
}

export interface IntuitEmulator {
  readonly url: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string;
  /** Base URL of the QuickBooks Accounting API (no trailing slash), as `/v3/company/...` is appended. */
  readonly apiBaseUrl: string;
  /** Applies to the token endpoint only; to one grant type only when `f.grantType` is set. */
  setFault(f: Fault): void;
  clearFault(): void;
  /** Applies to the revocation endpoint only. */
  setRevokeFault(f: RevokeFault): void;
  clearRevokeFault(): void;
  /** Every request to the token endpoint (only those of `grantType` when given), in order of arrival. */
  tokenRequests(grantType?: TokenGrantType): TokenRequestRecord[];
  /** refresh_token requests, whatever their outcome. */
  refreshCount(): number;
  /** Applies to the CompanyInfo endpoint only. */
  setCompanyInfoFault(f: CompanyInfoFault): void;
  clearCompanyInfoFault(): void;
  /** Every request to the CompanyInfo endpoint, in order of arrival. */
  companyInfoRequests(): CompanyInfoRequestRecord[];
  /** How many requests reached the revocation endpoint, whatever their outcome. */
  revocationRequests(): number;
  /** Every request to the revocation endpoint, in order of arrival, with its status and outcome. */
  revocationRequestRecords(): RevocationRequestRecord[];
  /** authorization_code requests, optionally for one code hash. */
  exchangeCount(codeHash?: string): number;
  isAccessTokenActive(token: string): boolean;
  isRefreshTokenActive(token: string): boolean;
  /** Why a refresh token works or not: active, rotated, revoked, expired or unknown. */
  refreshTokenState(token: string): RefreshTokenState;
  /**
   * What a user disconnecting the app inside QuickBooks causes: every live grant of the company is
   * revoked, so its refresh tokens answer invalid_grant. Returns how many grants were revoked.
   */
  disconnectCompany(realmId: string): number;
  /** Lifetime (whole seconds) of access tokens issued from now on, until reset(). */
  setAccessTokenLifetime(seconds: number): void;
  /** Lifetime (whole seconds) of refresh tokens issued from now on, until reset(); capped by the hard expiry. */
  setRefreshTokenLifetime(seconds: number): void;
  /**
   * Mints a code as if the user had consented on the authorization page, for `realmId` (the default
   * realm when absent); throws for a realm that is not among the companies.
   */
  issueCode(opts: { clientId: string; redirectUri: string; realmId?: string }): string;
  /** Adds a company (realmId -> CompanyName) a user may pick at consent. */
  addCompany(realmId: string, companyName: string): void;
  /** Forgets all codes, tokens, records, counts and faults, and restores the configured lifetimes. */
  reset(): void;
  close(): Promise<void>;
}

const AUTHORIZE_PATH = '/connect/oauth2';
const TOKEN_PATH = '/oauth2/v1/tokens/bearer';
const REVOKE_PATH = '/v2/oauth2/tokens/revoke';
const COMPANY_INFO_PATH = /^\/v3\/company\/([^/]+)\/companyinfo\/([^/]+)$/;

type Socket = IncomingMessage['socket'];

class Emulator implements IntuitEmulator {
  private readonly model: OAuthModel;
  private readonly faults = new FaultSwitches();
  /** What the endpoints may touch; kept apart so the emulator's public surface stays IntuitEmulator. */
  private readonly context: EndpointContext;
  private port = 0;
  private readonly log: (line: string) => void;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly server: Server,
    opts: EmulatorOptions,
  ) {
    this.model = new OAuthModel(opts);
    // The port, and so the URL, is only known once listening.
    const currentUrl = (): string => this.url;
    this.context = {
      model: this.model,
      faults: this.faults,
      appName: opts.appName,
      get url() {
        return currentUrl();
      },
      sleep: (ms) => this.sleep(ms),
    };
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
    this.faults.setTokenFault(f);
  }

  clearFault(): void {
    this.faults.clearTokenFault();
  }

  setRevokeFault(f: RevokeFault): void {
    this.faults.setRevokeFault(f);
  }

  clearRevokeFault(): void {
    this.faults.clearRevokeFault();
  }

  setCompanyInfoFault(f: CompanyInfoFault): void {
    this.faults.setCompanyInfoFault(f);
  }

  clearCompanyInfoFault(): void {
    this.faults.clearCompanyInfoFault();
  }

  tokenRequests(grantType?: TokenGrantType): TokenRequestRecord[] {
    return this.model.records.tokenRequests(grantType);
  }

  refreshCount(): number {
    return this.model.records.refreshCount();
  }

  companyInfoRequests(): CompanyInfoRequestRecord[] {
    return this.model.records.companyInfoRequests();
  }

  revocationRequests(): number {
    return this.model.records.revocationRequests();
  }

  revocationRequestRecords(): RevocationRequestRecord[] {
    return this.model.records.revocationRequestRecords();
  }

  exchangeCount(codeHash?: string): number {
    return this.model.records.exchangeCount(codeHash);
  }

  isAccessTokenActive(token: string): boolean {
    return this.model.isAccessTokenActive(token);
  }

  isRefreshTokenActive(token: string): boolean {
    return this.model.isRefreshTokenActive(token);
  }

  refreshTokenState(token: string): RefreshTokenState {
    return this.model.refreshTokenState(token);
  }

  disconnectCompany(realmId: string): number {
    return this.model.disconnectCompany(realmId);
  }

  setAccessTokenLifetime(seconds: number): void {
    this.model.setAccessTokenLifetime(seconds);
  }

  setRefreshTokenLifetime(seconds: number): void {
    this.model.setRefreshTokenLifetime(seconds);
  }

  issueCode(opts: { clientId: string; redirectUri: string; realmId?: string }): string {
    return this.model.issueCode(opts);
  }

  addCompany(realmId: string, companyName: string): void {
    this.model.addCompany(realmId, companyName);
  }

  reset(): void {
    this.model.reset();
    this.faults.clearAll();
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

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
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
        if (!allowMethod(req, res, 'GET')) return logLine(405, 'method_not_allowed');
        return logLine(...handleAuthorize(this.context, req, res));
      }
      if (path === DECISION_PATH) {
        if (!allowMethod(req, res, 'POST')) return logLine(405, 'method_not_allowed');
        return logLine(...handleDecision(this.context, await readBody(req), res));
      }
      if (path === TOKEN_PATH) {
        return logLine(...(await handleToken(this.context, req, res)));
      }
      if (path === REVOKE_PATH) {
        return logLine(...(await handleRevoke(this.context, req, res)));
      }
      const companyInfoPath = COMPANY_INFO_PATH.exec(path);
      if (companyInfoPath) {
        return logLine(
          ...(await handleCompanyInfo(
            this.context,
            req,
            res,
            companyInfoPath[1] ?? '',
            companyInfoPath[2] ?? '',
          )),
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
}

/** Starts an emulator on 127.0.0.1 (`opts.port`, or any free port) and resolves once it listens. */
export async function startIntuitEmulator(opts: EmulatorOptions): Promise<IntuitEmulator> {
  // Handlers are attached before listening so that no early connection escapes socket tracking.
  const emulator = new Emulator(createServer(), opts);
  await emulator.listen(opts.port ?? 0);
  return emulator;
}
