import { createHash } from 'node:crypto';
import axios from 'axios';
import type { AxiosResponse } from 'axios';
import { startIntuitEmulator } from '../../local/intuit-emulator';
import type { EmulatorOptions, IntuitEmulator } from '../../local/intuit-emulator';

const CLIENT = {
  clientId: 'ABtestClientId0001',
  clientSecret: 'test-secret-0001',
  redirectUris: ['https://app.example.com/callback', 'http://localhost:3000/callback?tenant=a'],
};
const OTHER_CLIENT = {
  clientId: 'ABotherClientId002',
  clientSecret: 'other-secret-0002',
  redirectUris: ['https://other.example.com/callback'],
};
const REDIRECT_URI = 'https://app.example.com/callback';
const REALM_ID = '4620816365212345678';
const OTHER_REALM_ID = '9341453217788990';
const OTHER_COMPANY = "Craig's Design and Landscaping Services";
const TID = /^1-[0-9a-f]{24}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const AUTHENTICATION_FAULT = {
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
  time: expect.stringMatching(ISO_TIME),
};
const AUTHORIZATION_FAULT = {
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
  time: expect.stringMatching(ISO_TIME),
};
const companyInfoOf = (name: string): Record<string, unknown> => ({
  CompanyInfo: {
    CompanyName: name,
    LegalName: name,
    Id: '1',
    Country: 'US',
    SyncToken: '0',
    domain: 'QBO',
    sparse: false,
  },
  time: expect.stringMatching(ISO_TIME),
});

const http = axios.create({ validateStatus: () => true, maxRedirects: 0 });

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');
const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface TokenBody {
  token_type?: unknown;
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
  x_refresh_token_expires_in?: unknown;
  x_refresh_token_hard_expires_in?: unknown;
  id_token?: unknown;
  error?: unknown;
  error_description?: unknown;
}

async function start(overrides: Partial<EmulatorOptions> = {}): Promise<IntuitEmulator> {
  return startIntuitEmulator({
    clients: [CLIENT, OTHER_CLIENT],
    realmId: REALM_ID,
    companies: { [OTHER_REALM_ID]: OTHER_COMPANY },
    ...overrides,
  });
}

function tokenRequest(
  emulator: IntuitEmulator,
  form: Record<string, string>,
  opts: { auth?: string | null; headers?: Record<string, string>; timeout?: number } = {},
): Promise<AxiosResponse<TokenBody>> {
  const auth = opts.auth === undefined ? basic(CLIENT.clientId, CLIENT.clientSecret) : opts.auth;
  return http.post<TokenBody>(emulator.tokenEndpoint, new URLSearchParams(form), {
    headers: {
      Accept: 'application/json',
      ...(auth === null ? {} : { Authorization: auth }),
      ...opts.headers,
    },
    ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
  });
}

function exchange(
  emulator: IntuitEmulator,
  code: string,
  opts: {
    redirectUri?: string;
    auth?: string | null;
    headers?: Record<string, string>;
    timeout?: number;
  } = {},
): Promise<AxiosResponse<TokenBody>> {
  const { redirectUri = REDIRECT_URI, ...rest } = opts;
  return tokenRequest(emulator, { grant_type: 'authorization_code', code, redirect_uri: redirectUri }, rest);
}

function refresh(
  emulator: IntuitEmulator,
  refreshToken: string,
  auth: string = basic(CLIENT.clientId, CLIENT.clientSecret),
): Promise<AxiosResponse<TokenBody>> {
  return tokenRequest(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken }, { auth });
}

function revoke(
  emulator: IntuitEmulator,
  token: string,
  auth: string = basic(CLIENT.clientId, CLIENT.clientSecret),
): Promise<AxiosResponse<string>> {
  return http.post<string>(
    emulator.revocationEndpoint,
    { token },
    { headers: { Authorization: auth, Accept: 'application/json' }, responseType: 'text' },
  );
}

function companyInfo(
  emulator: IntuitEmulator,
  realmId: string,
  accessToken: string | null,
  opts: { pathRealmId?: string; minorVersion?: string; method?: 'GET' | 'POST'; timeout?: number } = {},
): Promise<AxiosResponse<unknown>> {
  const query = opts.minorVersion === undefined ? '' : `?minorversion=${opts.minorVersion}`;
  return http.request({
    method: opts.method ?? 'GET',
    url: `${emulator.apiBaseUrl}/v3/company/${realmId}/companyinfo/${opts.pathRealmId ?? realmId}${query}`,
    headers: {
      Accept: 'application/json',
      ...(accessToken === null ? {} : { Authorization: `Bearer ${accessToken}` }),
    },
    ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
  });
}

/** An exchanged connection, as the connector holds it right after the callback. */
async function connect(
  emulator: IntuitEmulator,
  realmId?: string,
): Promise<{ accessToken: string; refreshToken: string }> {
  const code = emulator.issueCode({
    clientId: CLIENT.clientId,
    redirectUri: REDIRECT_URI,
    ...(realmId === undefined ? {} : { realmId }),
  });
  return tokensOf(await exchange(emulator, code));
}

function tokensOf(res: AxiosResponse<TokenBody>): { accessToken: string; refreshToken: string } {
  const { access_token: accessToken, refresh_token: refreshToken } = res.data;
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string') {
    throw new Error(`expected tokens, got HTTP ${res.status}`);
  }
  return { accessToken, refreshToken };
}

function authorizeUrl(emulator: IntuitEmulator, params: Record<string, string>): string {
  const query = new URLSearchParams({
    client_id: CLIENT.clientId,
    response_type: 'code',
    scope: 'com.intuit.quickbooks.accounting',
    redirect_uri: REDIRECT_URI,
    state: 'state-123',
    ...params,
  });
  return `${emulator.authorizationEndpoint}?${query.toString()}`;
}

function decide(emulator: IntuitEmulator, fields: Record<string, string>): Promise<AxiosResponse<string>> {
  const form = new URLSearchParams({
    client_id: CLIENT.clientId,
    redirect_uri: REDIRECT_URI,
    state: 'state-123',
    scope: 'com.intuit.quickbooks.accounting',
    ...fields,
  });
  return http.post<string>(`${emulator.url}/connect/oauth2/decision`, form, { responseType: 'text' });
}

function locationOf(res: AxiosResponse): URL {
  const location: unknown = res.headers['location'];
  if (typeof location !== 'string') throw new Error(`expected a Location header on HTTP ${res.status}`);
  return new URL(location);
}

/** Errors axios raises when no HTTP response came back, by their Node/axios error code. */
async function transportErrorCode(request: Promise<unknown>): Promise<string> {
  try {
    await request;
  } catch (err) {
    if (axios.isAxiosError(err) && err.response === undefined) return err.code ?? 'unknown';
    throw err;
  }
  throw new Error('expected the request to fail without a response');
}

describe('Intuit OAuth emulator', () => {
  let emulator: IntuitEmulator;
  let logLines: string[];

  beforeAll(async () => {
    logLines = [];
    emulator = await start({ log: (line) => logLines.push(line) });
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.reset();
  });

  describe('given the emulator is listening', () => {
    it('serves on an ephemeral 127.0.0.1 port with Intuit-shaped endpoint paths', () => {
      expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(emulator.authorizationEndpoint).toBe(`${emulator.url}/connect/oauth2`);
      expect(emulator.tokenEndpoint).toBe(`${emulator.url}/oauth2/v1/tokens/bearer`);
      expect(emulator.revocationEndpoint).toBe(`${emulator.url}/v2/oauth2/tokens/revoke`);
      expect(emulator.apiBaseUrl).toBe(emulator.url);
    });
  });

  describe('given a valid authorization request', () => {
    it('renders an accessible, self-contained consent page that posts the decision back', async () => {
      const res = await http.get<string>(authorizeUrl(emulator, { state: 'a"<b>&c' }), {
        responseType: 'text',
      });

      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-store');
      const html = res.data;
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toContain('<html lang="en">');
      expect(html).toMatch(/<title>[^<]+<\/title>/);
      expect(html).toMatch(/<main>[\s\S]*<\/main>/);
      expect(html).toContain('<h1>Intuit emulator — An app wants to connect to your QuickBooks company</h1>');
      expect(html).toContain('<form method="post" action="/connect/oauth2/decision">');
      expect(html).toContain(`<input type="hidden" name="client_id" value="${CLIENT.clientId}">`);
      expect(html).toContain(`<input type="hidden" name="redirect_uri" value="${REDIRECT_URI}">`);
      expect(html).toContain('<input type="hidden" name="scope" value="com.intuit.quickbooks.accounting">');
      expect(html).toContain('<input type="hidden" name="state" value="a&#34;&#60;b&#62;&#38;c">');
      expect(html).toContain('<button name="decision" value="allow">Connect</button>');
      expect(html).toContain('<button name="decision" value="deny">Cancel</button>');
      expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
      expect(html).not.toMatch(/(src|href)="https?:/i);
    });

    it('redirects to the redirect_uri with a fresh code, the state and the realmId when the user connects', async () => {
      const res = await decide(emulator, { decision: 'allow', state: 'st ate/+&=' });

      expect(res.status).toBe(302);
      const location = locationOf(res);
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
      const code = location.searchParams.get('code') ?? '';
      expect(code.length).toBeGreaterThanOrEqual(40);
      expect(location.searchParams.get('state')).toBe('st ate/+&=');
      expect(location.searchParams.get('realmId')).toBe(REALM_ID);

      const tokens = await exchange(emulator, code);
      expect(tokens.status).toBe(200);
    });

    it('redirects with error=access_denied and the state, and no code, when the user cancels', async () => {
      const res = await decide(emulator, { decision: 'deny' });

      expect(res.status).toBe(302);
      const location = locationOf(res);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect(location.searchParams.get('state')).toBe('state-123');
      expect(location.searchParams.has('code')).toBe(false);
    });

    it('appends its parameters with & when the registered redirect_uri already has a query', async () => {
      const redirectUri = 'http://localhost:3000/callback?tenant=a';
      const res = await decide(emulator, { decision: 'allow', redirect_uri: redirectUri });

      expect(res.status).toBe(302);
      const location = String(res.headers['location']);
      expect(location.startsWith(`${redirectUri}&code=`)).toBe(true);
      const code = locationOf(res).searchParams.get('code') ?? '';
      expect((await exchange(emulator, code, { redirectUri })).status).toBe(200);
    });
  });

  describe('given an authorization request the emulator cannot trust', () => {
    it.each([
      ['a redirect_uri with an extra trailing slash', { redirect_uri: `${REDIRECT_URI}/` }],
      ['a redirect_uri registered for another client', { redirect_uri: OTHER_CLIENT.redirectUris[0] ?? '' }],
      ['a redirect_uri differing only in case', { redirect_uri: REDIRECT_URI.toUpperCase() }],
      ['an unknown client_id', { client_id: 'ABunknown' }],
      ['no redirect_uri at all', { redirect_uri: '' }],
    ])('shows a 400 error page and does not redirect for %s', async (_label, params) => {
      const res = await http.get<string>(authorizeUrl(emulator, params), { responseType: 'text' });

      expect(res.status).toBe(400);
      expect(res.headers['location']).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.data).toContain('<html lang="en">');
    });

    it('refuses a consent decision whose redirect_uri was tampered with, without redirecting', async () => {
      const res = await decide(emulator, {
        decision: 'allow',
        redirect_uri: 'https://evil.example.com/callback',
      });

      expect(res.status).toBe(400);
      expect(res.headers['location']).toBeUndefined();
    });

    it('redirects with unsupported_response_type when response_type is not code', async () => {
      const res = await http.get(authorizeUrl(emulator, { response_type: 'token' }));

      expect(res.status).toBe(302);
      expect(locationOf(res).searchParams.get('error')).toBe('unsupported_response_type');
      expect(locationOf(res).searchParams.get('state')).toBe('state-123');
    });

    it('redirects with invalid_request when the scope is empty', async () => {
      const res = await http.get(authorizeUrl(emulator, { scope: '' }));

      expect(res.status).toBe(302);
      expect(locationOf(res).searchParams.get('error')).toBe('invalid_request');
      expect(locationOf(res).searchParams.get('state')).toBe('state-123');
    });
  });

  describe('given a fresh code', () => {
    it('exchanges it for a bearer access token and a refresh token with Intuit lifetimes', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });

      const res = await exchange(emulator, code);

      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.data).toEqual({
        token_type: 'bearer',
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        expires_in: 3600,
        x_refresh_token_expires_in: 8_726_400,
      });
      const { accessToken, refreshToken } = tokensOf(res);
      expect(accessToken).not.toBe(refreshToken);
      expect(emulator.isAccessTokenActive(accessToken)).toBe(true);
      expect(emulator.isRefreshTokenActive(refreshToken)).toBe(true);
      expect(emulator.isAccessTokenActive(refreshToken)).toBe(false);
    });

    it('adds the 5-year hard expiry only when x-include-refresh-token-hard-expires-in is true', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });

      const res = await exchange(emulator, code, {
        headers: { 'x-include-refresh-token-hard-expires-in': 'true' },
      });

      expect(res.status).toBe(200);
      expect(res.data.x_refresh_token_hard_expires_in).toBe(5 * 365 * 24 * 60 * 60);
    });

    it('rejects it with invalid_grant when the redirect_uri differs from the authorization one', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });

      const res = await exchange(emulator, code, { redirectUri: `${REDIRECT_URI}/` });

      expect(res.status).toBe(400);
      expect(res.data.error).toBe('invalid_grant');
    });

    it('burns it on a rejected presentation, as the pessimistic reading of Intuit requires', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      await exchange(emulator, code, { redirectUri: `${REDIRECT_URI}/` });

      const res = await exchange(emulator, code);

      expect(res.status).toBe(400);
      expect(res.data.error).toBe('invalid_grant');
    });

    it('rejects it with invalid_grant when another client presents it', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });

      const res = await exchange(emulator, code, {
        auth: basic(OTHER_CLIENT.clientId, OTHER_CLIENT.clientSecret),
      });

      expect(res.status).toBe(400);
      expect(res.data.error).toBe('invalid_grant');
    });

    it('rejects an unknown code with invalid_grant', async () => {
      const res = await exchange(emulator, 'not-a-code-the-emulator-issued');

      expect(res.status).toBe(400);
      expect(res.data.error).toBe('invalid_grant');
    });
  });

  describe('given a code exchanged once', () => {
    it('rejects a second exchange with invalid_grant and revokes the first tokens', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const first = await exchange(emulator, code);
      const { accessToken, refreshToken } = tokensOf(first);

      const second = await exchange(emulator, code);

      expect(second.status).toBe(400);
      expect(second.data.error).toBe('invalid_grant');
      expect(emulator.isAccessTokenActive(accessToken)).toBe(false);
      expect(emulator.isRefreshTokenActive(refreshToken)).toBe(false);
      expect((await refresh(emulator, refreshToken)).data.error).toBe('invalid_grant');
      expect(emulator.exchangeCount(sha256(code))).toBe(2);
    });

    it('also revokes tokens already refreshed from the first exchange when the code is replayed', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const first = tokensOf(await exchange(emulator, code));
      const refreshed = tokensOf(await refresh(emulator, first.refreshToken));

      await exchange(emulator, code);

      expect(emulator.isAccessTokenActive(refreshed.accessToken)).toBe(false);
      expect(emulator.isRefreshTokenActive(refreshed.refreshToken)).toBe(false);
    });
  });

  describe('given a code older than its lifetime', () => {
    let shortLived: IntuitEmulator;

    beforeAll(async () => {
      shortLived = await start({ codeLifetimeMs: 200 });
    });

    afterAll(async () => {
      await shortLived.close();
    });

    it('rejects the exchange with invalid_grant', async () => {
      const code = shortLived.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      await sleep(300);

      const res = await exchange(shortLived, code);

      expect(res.status).toBe(400);
      expect(res.data.error).toBe('invalid_grant');
    });
  });

  describe('given an access token past its lifetime', () => {
    let shortLived: IntuitEmulator;

    beforeAll(async () => {
      shortLived = await start({ accessTokenLifetimeS: 1 });
    });

    afterAll(async () => {
      await shortLived.close();
    });

    it('reports it inactive while the refresh token still works', async () => {
      const code = shortLived.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const res = await exchange(shortLived, code);
      const { accessToken, refreshToken } = tokensOf(res);
      expect(res.data.expires_in).toBe(1);
      await sleep(1100);

      expect(shortLived.isAccessTokenActive(accessToken)).toBe(false);
      expect((await refresh(shortLived, refreshToken)).status).toBe(200);
    });

    it('answers CompanyInfo with 401 AuthenticationFailed for it', async () => {
      const { accessToken } = await connect(shortLived);
      expect((await companyInfo(shortLived, REALM_ID, accessToken)).status).toBe(200);
      await sleep(1100);

      const res = await companyInfo(shortLived, REALM_ID, accessToken);

      expect(res.status).toBe(401);
      expect(res.data).toEqual(AUTHENTICATION_FAULT);
      expect(shortLived.companyInfoRequests().map((r) => r.outcome)).toEqual(['ok', 'invalid_token']);
    });
  });

  describe('given bad client credentials', () => {
    it.each([
      ['a wrong secret', basic(CLIENT.clientId, 'wrong-secret')],
      ['a secret with stray whitespace', basic(CLIENT.clientId, `${CLIENT.clientSecret} `)],
      ['an unknown client id', basic('ABunknown', CLIENT.clientSecret)],
      ['a non-Basic scheme', `Bearer ${CLIENT.clientSecret}`],
      ['no Authorization header', null],
    ])('answers 401 invalid_client for %s and leaves the code unused', async (_label, auth) => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });

      const res = await exchange(emulator, code, { auth });

      expect(res.status).toBe(401);
      expect(res.data).toEqual({ error: 'invalid_client' });
      expect((await exchange(emulator, code)).status).toBe(200);
    });
  });

  describe('given a malformed token request', () => {
    it('answers unsupported_grant_type for a grant Intuit does not offer', async () => {
      const res = await tokenRequest(emulator, { grant_type: 'client_credentials' });

      expect(res.status).toBe(400);
      expect(res.data).toEqual({ error: 'unsupported_grant_type' });
    });

    it.each([
      ['no grant_type', {}],
      [
        'an authorization_code grant without code',
        { grant_type: 'authorization_code', redirect_uri: REDIRECT_URI },
      ],
      ['an authorization_code grant without redirect_uri', { grant_type: 'authorization_code', code: 'x' }],
      ['a refresh_token grant without refresh_token', { grant_type: 'refresh_token' }],
    ])('answers invalid_request for %s', async (_label, form: Record<string, string>) => {
      const res = await tokenRequest(emulator, form);

      expect(res.status).toBe(400);
      expect(res.data).toEqual({ error: 'invalid_request' });
    });
  });

  describe('given a refresh token', () => {
    it('issues a new access token and rotates the refresh token, killing the old one at once', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const first = tokensOf(await exchange(emulator, code));

      const res = await refresh(emulator, first.refreshToken);

      expect(res.status).toBe(200);
      expect(res.data.x_refresh_token_expires_in).toBe(8_726_400);
      const second = tokensOf(res);
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(emulator.isRefreshTokenActive(first.refreshToken)).toBe(false);
      expect(emulator.isRefreshTokenActive(second.refreshToken)).toBe(true);
      expect(emulator.isAccessTokenActive(second.accessToken)).toBe(true);

      const reuse = await refresh(emulator, first.refreshToken);
      expect(reuse.status).toBe(400);
      expect(reuse.data).toEqual({
        error: 'invalid_grant',
        error_description: 'Incorrect or invalid refresh token',
      });
      expect((await refresh(emulator, second.refreshToken)).status).toBe(200);
    });

    it('rejects it with invalid_grant when another client presents it', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const { refreshToken } = tokensOf(await exchange(emulator, code));

      const res = await refresh(
        emulator,
        refreshToken,
        basic(OTHER_CLIENT.clientId, OTHER_CLIENT.clientSecret),
      );

      expect(res.status).toBe(400);
      expect(res.data.error).toBe('invalid_grant');
      expect(emulator.isRefreshTokenActive(refreshToken)).toBe(true);
    });

    it('rejects an unknown refresh token with invalid_grant', async () => {
      const res = await refresh(emulator, 'AB11-never-issued');

      expect(res.status).toBe(400);
      expect(res.data).toEqual({
        error: 'invalid_grant',
        error_description: 'Incorrect or invalid refresh token',
      });
    });
  });

  describe('given a connection to revoke', () => {
    it('revokes the refresh token and its access token, answering 200 with an empty body', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const { accessToken, refreshToken } = tokensOf(await exchange(emulator, code));

      const res = await revoke(emulator, refreshToken);

      expect(res.status).toBe(200);
      expect(res.data).toBe('');
      expect(emulator.isRefreshTokenActive(refreshToken)).toBe(false);
      expect(emulator.isAccessTokenActive(accessToken)).toBe(false);
      expect((await refresh(emulator, refreshToken)).data.error).toBe('invalid_grant');
    });

    it('revokes the refresh token too when given the access token', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const { accessToken, refreshToken } = tokensOf(await exchange(emulator, code));

      expect((await revoke(emulator, accessToken)).status).toBe(200);

      expect(emulator.isAccessTokenActive(accessToken)).toBe(false);
      expect(emulator.isRefreshTokenActive(refreshToken)).toBe(false);
    });

    it('answers 401 invalid_client and revokes nothing when the credentials are wrong', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const { refreshToken } = tokensOf(await exchange(emulator, code));

      const res = await revoke(emulator, refreshToken, basic(CLIENT.clientId, 'wrong-secret'));

      expect(res.status).toBe(401);
      expect(JSON.parse(res.data)).toEqual({ error: 'invalid_client' });
      expect(emulator.isRefreshTokenActive(refreshToken)).toBe(true);
    });
  });

  describe('given any request', () => {
    it('answers with a fresh intuit_tid header on every route, errors included', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      emulator.setFault({ mode: 'status503', times: 1 });
      const responses: AxiosResponse[] = [
        await http.get(authorizeUrl(emulator, {})),
        await http.get(authorizeUrl(emulator, { redirect_uri: 'https://evil.example.com/' })),
        await http.get(authorizeUrl(emulator, { scope: '' })),
        await decide(emulator, { decision: 'allow' }),
        await decide(emulator, { decision: 'deny' }),
        await exchange(emulator, code), // 503 fault
        await exchange(emulator, code),
        await exchange(emulator, code),
        await exchange(emulator, code, { auth: null }),
        await revoke(emulator, 'whatever'),
        await revoke(emulator, 'whatever', basic('ABunknown', 'x')),
        await http.get(`${emulator.url}/no/such/route`),
        await http.get(emulator.tokenEndpoint),
      ];
      const { accessToken } = await connect(emulator);
      responses.push(
        await companyInfo(emulator, REALM_ID, accessToken),
        await companyInfo(emulator, OTHER_REALM_ID, accessToken),
        await companyInfo(emulator, REALM_ID, 'not-a-token'),
        await companyInfo(emulator, REALM_ID, accessToken, { pathRealmId: OTHER_REALM_ID }),
        await companyInfo(emulator, REALM_ID, accessToken, { method: 'POST' }),
      );

      expect(responses.map((r) => r.status)).toEqual([
        200, 400, 302, 302, 302, 503, 200, 400, 401, 200, 401, 404, 405, 200, 403, 401, 400, 405,
      ]);
      const tids = responses.map((r) => String(r.headers['intuit_tid']));
      for (const tid of tids) expect(tid).toMatch(TID);
      expect(new Set(tids).size).toBe(tids.length);
    });
  });

  describe('given a fault on the token endpoint', () => {
    const newCode = (): string =>
      emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });

    it('latency: delays the answer, then exchanges normally', async () => {
      emulator.setFault({ mode: 'latency', latencyMs: 250 });
      const started = Date.now();

      const res = await exchange(emulator, newCode());

      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
      expect(res.status).toBe(200);
      tokensOf(res);
    });

    it.each([
      ['status500', 500],
      ['status503', 503],
    ] as const)('%s: answers %i without consuming the code', async (mode, status) => {
      const code = newCode();
      emulator.setFault({ mode });

      const res = await exchange(emulator, code);

      expect(res.status).toBe(status);
      expect(res.headers['intuit_tid']).toMatch(TID);
      emulator.clearFault();
      expect((await exchange(emulator, code)).status).toBe(200);
    });

    it('status429: answers 429 throttled without consuming the code', async () => {
      const code = newCode();
      emulator.setFault({ mode: 'status429' });

      const res = await exchange(emulator, code);

      expect(res.status).toBe(429);
      expect(res.data.error).toBe('throttled');
      emulator.clearFault();
      expect((await exchange(emulator, code)).status).toBe(200);
    });

    it('hang: consumes the code and never answers, so a later exchange gets invalid_grant', async () => {
      const code = newCode();
      emulator.setFault({ mode: 'hang', times: 1 });

      const errorCode = await transportErrorCode(exchange(emulator, code, { timeout: 300 }));

      expect(errorCode).toBe('ECONNABORTED');
      const retry = await exchange(emulator, code);
      expect(retry.status).toBe(400);
      expect(retry.data.error).toBe('invalid_grant');
      expect(emulator.tokenRequests().map((r) => [r.status, r.outcome])).toEqual([
        [0, 'hang:issued'],
        [400, 'invalid_grant:replay'],
      ]);
    });

    it('reset-after-consume: issues tokens, then drops the connection without answering', async () => {
      const code = newCode();
      emulator.setFault({ mode: 'reset-after-consume', times: 1 });

      const errorCode = await transportErrorCode(exchange(emulator, code));

      expect(errorCode).toBe('ECONNRESET');
      const retry = await exchange(emulator, code);
      expect(retry.status).toBe(400);
      expect(retry.data.error).toBe('invalid_grant');
      expect(emulator.tokenRequests()[0]).toMatchObject({ status: 0, outcome: 'reset-after-consume:issued' });
    });

    it('malformed: consumes the code and answers 200 with a body that is not a token response', async () => {
      const code = newCode();
      emulator.setFault({ mode: 'malformed', times: 1 });

      const res = await exchange(emulator, code);

      expect(res.status).toBe(200);
      expect(typeof res.data.access_token).not.toBe('string');
      expect(typeof res.data.refresh_token).not.toBe('string');
      expect((await exchange(emulator, code)).data.error).toBe('invalid_grant');
    });

    it('invalid-client: answers 401 invalid_client despite good credentials, without consuming the code', async () => {
      const code = newCode();
      emulator.setFault({ mode: 'invalid-client', times: 1 });

      const res = await exchange(emulator, code);

      expect(res.status).toBe(401);
      expect(res.data).toEqual({ error: 'invalid_client' });
      expect((await exchange(emulator, code)).status).toBe(200);
    });

    it('with times: affects only that many requests, then clears itself', async () => {
      emulator.setFault({ mode: 'status503', times: 2 });

      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await exchange(emulator, newCode())).status);

      expect(statuses).toEqual([503, 503, 200]);
    });

    it('leaves the authorization and revocation endpoints alone', async () => {
      emulator.setFault({ mode: 'status500' });

      expect((await http.get(authorizeUrl(emulator, {}))).status).toBe(200);
      expect((await revoke(emulator, 'whatever')).status).toBe(200);
      expect(emulator.tokenRequests()).toHaveLength(0);
    });
  });

  describe('given token requests have been made', () => {
    it('records every one in order with the code hash, status and outcome, whatever the fault', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const before = Date.now();
      emulator.setFault({ mode: 'status429', times: 1 });
      await exchange(emulator, code);
      const { refreshToken } = tokensOf(await exchange(emulator, code));
      await refresh(emulator, refreshToken);
      await exchange(emulator, code, { auth: null });
      await exchange(emulator, code);

      const records = emulator.tokenRequests();

      expect(
        records.map(({ grantType, codeHash, status, outcome }) => ({ grantType, codeHash, status, outcome })),
      ).toEqual([
        { grantType: 'authorization_code', codeHash: sha256(code), status: 429, outcome: 'fault:status429' },
        { grantType: 'authorization_code', codeHash: sha256(code), status: 200, outcome: 'issued' },
        { grantType: 'refresh_token', codeHash: undefined, status: 200, outcome: 'refreshed' },
        { grantType: 'authorization_code', codeHash: sha256(code), status: 401, outcome: 'invalid_client' },
        {
          grantType: 'authorization_code',
          codeHash: sha256(code),
          status: 400,
          outcome: 'invalid_grant:replay',
        },
      ]);
      expect(records[2]).not.toHaveProperty('codeHash');
      for (const record of records) expect(record.at).toBeGreaterThanOrEqual(before);
      expect(emulator.exchangeCount()).toBe(4);
      expect(emulator.exchangeCount(sha256(code))).toBe(4);
      expect(emulator.exchangeCount(sha256('another code'))).toBe(0);
    });

    it('forgets records, counts, codes, tokens and both kinds of fault on reset()', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const { accessToken } = tokensOf(await exchange(emulator, code));
      await companyInfo(emulator, REALM_ID, accessToken);
      await revoke(emulator, 'whatever');
      emulator.setFault({ mode: 'status500' });
      emulator.setCompanyInfoFault({ mode: 'status503' });
      expect(emulator.companyInfoRequests()).toHaveLength(1);
      expect(emulator.revocationRequests()).toBe(1);

      emulator.reset();

      expect(emulator.tokenRequests()).toEqual([]);
      expect(emulator.companyInfoRequests()).toEqual([]);
      expect(emulator.revocationRequests()).toBe(0);
      expect(emulator.isAccessTokenActive(accessToken)).toBe(false);
      const res = await exchange(emulator, code);
      expect(res.status).toBe(400);
      expect(res.data.error).toBe('invalid_grant');
      expect((await companyInfo(emulator, REALM_ID, (await connect(emulator)).accessToken)).status).toBe(200);
    });

    it('never writes codes, tokens, secrets or state values to its log', async () => {
      logLines.length = 0;
      const consent = await decide(emulator, { decision: 'allow', state: 'secret-state-value' });
      const code = locationOf(consent).searchParams.get('code') ?? '';
      await http.get(authorizeUrl(emulator, { state: 'secret-state-value' }));
      const { accessToken, refreshToken } = tokensOf(await exchange(emulator, code));
      const rotated = tokensOf(await refresh(emulator, refreshToken));
      await companyInfo(emulator, REALM_ID, rotated.accessToken);
      await revoke(emulator, rotated.refreshToken);
      await exchange(emulator, code);

      const log = logLines.join('\n');
      expect(logLines.length).toBeGreaterThanOrEqual(7);
      for (const secret of [
        code,
        accessToken,
        refreshToken,
        rotated.accessToken,
        rotated.refreshToken,
        CLIENT.clientSecret,
        'secret-state-value',
      ]) {
        expect(log).not.toContain(secret);
      }
      expect(log).toContain(sha256(code).slice(0, 8));
    });
  });

  describe('given several companies to choose from on the consent page', () => {
    it('lists them in a labelled select, with the default realm first and preselected', async () => {
      const res = await http.get<string>(authorizeUrl(emulator, {}), { responseType: 'text' });

      expect(res.status).toBe(200);
      expect(res.data).toContain('<label for="realm_id">Company</label>');
      expect(res.data).toContain(
        '<select id="realm_id" name="realm_id">' +
          `<option value="${REALM_ID}" selected>Sandbox Company_US_1</option>` +
          `<option value="${OTHER_REALM_ID}">Craig&#39;s Design and Landscaping Services</option>` +
          '</select>',
      );
    });

    it('names the app by its configured name, escaped, instead of its client id', async () => {
      const own = await start({ appName: 'Acme <Books>' });
      try {
        const res = await http.get<string>(authorizeUrl(own, {}), { responseType: 'text' });

        expect(res.status).toBe(200);
        expect(res.data).toContain(
          '<h1>Intuit emulator — Acme &#60;Books&#62; wants to connect to your QuickBooks company</h1>',
        );
        expect(res.data).not.toContain(`${CLIENT.clientId} wants`);
      } finally {
        await own.close();
      }
    });

    it("names each app by its own registered name, escaped, over the emulator's default", async () => {
      const own = await start({
        appName: 'Default app',
        clients: [{ ...CLIENT, appName: 'Ledgerly & <Sons>' }, OTHER_CLIENT],
      });
      try {
        const named = await http.get<string>(authorizeUrl(own, {}), { responseType: 'text' });
        const unnamed = await http.get<string>(
          authorizeUrl(own, {
            client_id: OTHER_CLIENT.clientId,
            redirect_uri: OTHER_CLIENT.redirectUris[0] ?? '',
          }),
          { responseType: 'text' },
        );

        expect(named.data).toContain(
          '<h1>Intuit emulator — Ledgerly &#38; &#60;Sons&#62; wants to connect to your QuickBooks company</h1>',
        );
        expect(unnamed.data).toContain(
          '<h1>Intuit emulator — Default app wants to connect to your QuickBooks company</h1>',
        );
      } finally {
        await own.close();
      }
    });

    it('shows the client id nowhere but in the form field that posts it back', async () => {
      const named = await start({ clients: [{ ...CLIENT, appName: 'Ledgerly' }] });
      try {
        for (const target of [emulator, named]) {
          const res = await http.get<string>(authorizeUrl(target, {}), { responseType: 'text' });
          const field = `<input type="hidden" name="client_id" value="${CLIENT.clientId}">`;

          expect(res.data).toContain(field);
          expect(res.data.replace(field, '')).not.toContain(CLIENT.clientId);
        }
      } finally {
        await named.close();
      }
    });

    it('redirects with the chosen realm as realmId, and the tokens belong to that company', async () => {
      const res = await decide(emulator, { decision: 'allow', realm_id: OTHER_REALM_ID });

      expect(res.status).toBe(302);
      const location = locationOf(res);
      expect(location.searchParams.get('realmId')).toBe(OTHER_REALM_ID);
      const { accessToken } = tokensOf(await exchange(emulator, location.searchParams.get('code') ?? ''));
      const own = await companyInfo(emulator, OTHER_REALM_ID, accessToken);
      expect(own.status).toBe(200);
      expect(own.data).toEqual(companyInfoOf(OTHER_COMPANY));
      expect((await companyInfo(emulator, REALM_ID, accessToken)).status).toBe(403);
    });

    it('binds the code to the default realm when the decision names none', async () => {
      const res = await decide(emulator, { decision: 'allow' });

      expect(locationOf(res).searchParams.get('realmId')).toBe(REALM_ID);
      const { accessToken } = tokensOf(
        await exchange(emulator, locationOf(res).searchParams.get('code') ?? ''),
      );
      expect((await companyInfo(emulator, REALM_ID, accessToken)).status).toBe(200);
      expect((await companyInfo(emulator, OTHER_REALM_ID, accessToken)).status).toBe(403);
    });

    it.each([
      ['a realm id that is not among the companies', '1234567890'],
      ['a realm id that is not all digits', `${REALM_ID}x`],
      ['an empty realm id', ''],
    ])('shows a 400 error page and does not redirect for %s', async (_label, realmId) => {
      logLines.length = 0;

      const res = await decide(emulator, { decision: 'allow', realm_id: realmId });

      expect(res.status).toBe(400);
      expect(res.headers['location']).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.data).toContain('The chosen company (realm_id) is unknown.');
      expect(logLines.join('\n')).toContain('unknown_realm');
    });

    it('still redirects with access_denied when a user with an unknown realm cancels', async () => {
      const res = await decide(emulator, { decision: 'deny', realm_id: '1234567890' });

      expect(res.status).toBe(302);
      expect(locationOf(res).searchParams.get('error')).toBe('access_denied');
      expect(locationOf(res).searchParams.has('realmId')).toBe(false);
    });

    it('keeps the default realm among the companies when only others are given', async () => {
      const own = await start({ companies: { '123456': 'Only Other Inc' } });
      try {
        const res = await http.get<string>(authorizeUrl(own, {}), { responseType: 'text' });

        expect(res.data).toContain(
          `<option value="${REALM_ID}" selected>Sandbox Company_US_1</option>` +
            '<option value="123456">Only Other Inc</option>',
        );
        expect(locationOf(await decide(own, { decision: 'allow' })).searchParams.get('realmId')).toBe(
          REALM_ID,
        );
      } finally {
        await own.close();
      }
    });

    it('refuses to start with a realm id that is not all digits', async () => {
      await expect(start({ companies: { 'realm-1': 'Bad Realm' } })).rejects.toThrow(
        'Intuit emulator: realm ids must be digits',
      );
      await expect(start({ realmId: 'abc' })).rejects.toThrow('Intuit emulator: realm ids must be digits');
    });
  });

  describe('given a code minted by issueCode for a realm', () => {
    it('binds the tokens to that realm, and to the default realm when none is named', async () => {
      const other = await connect(emulator, OTHER_REALM_ID);
      const fallback = await connect(emulator);

      expect((await companyInfo(emulator, OTHER_REALM_ID, other.accessToken)).status).toBe(200);
      expect((await companyInfo(emulator, REALM_ID, other.accessToken)).status).toBe(403);
      expect((await companyInfo(emulator, REALM_ID, fallback.accessToken)).status).toBe(200);
      expect((await companyInfo(emulator, OTHER_REALM_ID, fallback.accessToken)).status).toBe(403);
    });

    it('throws for a realm that is not among the companies', () => {
      expect(() =>
        emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI, realmId: '1234567890' }),
      ).toThrow('issueCode: realmId is not one of the companies');
    });
  });

  describe('given a CompanyInfo request with an active access token', () => {
    it('answers 200 with the company for its own realm and records the minorversion', async () => {
      const { accessToken } = await connect(emulator);
      const before = Date.now();

      const res = await companyInfo(emulator, REALM_ID, accessToken, { minorVersion: '75' });

      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['intuit_tid']).toMatch(TID);
      expect(res.data).toEqual(companyInfoOf('Sandbox Company_US_1'));
      const records = emulator.companyInfoRequests();
      expect(records).toEqual([
        { realmId: REALM_ID, minorVersion: '75', at: expect.any(Number), status: 200, outcome: 'ok' },
      ]);
      expect(records[0]?.at).toBeGreaterThanOrEqual(before);
    });

    it('records no minorVersion when none is sent', async () => {
      const { accessToken } = await connect(emulator);

      expect((await companyInfo(emulator, REALM_ID, accessToken)).status).toBe(200);

      expect(emulator.companyInfoRequests()[0]).not.toHaveProperty('minorVersion');
    });

    it('answers 403 ApplicationAuthorizationFailed (003100) for a token of another company', async () => {
      const { accessToken } = await connect(emulator, OTHER_REALM_ID);

      const res = await companyInfo(emulator, REALM_ID, accessToken);

      expect(res.status).toBe(403);
      expect(res.data).toEqual(AUTHORIZATION_FAULT);
      expect(res.headers['intuit_tid']).toMatch(TID);
      expect(emulator.companyInfoRequests()).toMatchObject([
        { realmId: REALM_ID, status: 403, outcome: 'realm_mismatch' },
      ]);
    });

    it("keeps the grant's realm across refreshes", async () => {
      const first = await connect(emulator, OTHER_REALM_ID);
      const second = tokensOf(await refresh(emulator, first.refreshToken));

      const own = await companyInfo(emulator, OTHER_REALM_ID, second.accessToken);

      expect(own.status).toBe(200);
      expect(own.data).toEqual(companyInfoOf(OTHER_COMPANY));
      expect((await companyInfo(emulator, REALM_ID, second.accessToken)).status).toBe(403);
    });

    it.each([
      ['the two path ids differ', REALM_ID, OTHER_REALM_ID],
      ['the first path id is not digits', 'abc', REALM_ID],
      ['both path ids are the same non-digits', 'abc', 'abc'],
    ])('answers 400 ValidationFault when %s', async (_label, realmId, pathRealmId) => {
      const { accessToken } = await connect(emulator);

      const res = await companyInfo(emulator, realmId, accessToken, { pathRealmId });

      expect(res.status).toBe(400);
      expect(res.data).toEqual({
        Fault: { Error: [{ Message: 'Invalid company id', code: '4000' }], type: 'ValidationFault' },
      });
      expect(emulator.companyInfoRequests()).toMatchObject([
        { realmId, status: 400, outcome: 'bad_request' },
      ]);
    });

    it('answers 405 with Allow: GET to another method', async () => {
      const { accessToken } = await connect(emulator);

      const res = await companyInfo(emulator, REALM_ID, accessToken, { method: 'POST' });

      expect(res.status).toBe(405);
      expect(res.headers['allow']).toBe('GET');
      expect(emulator.companyInfoRequests()).toMatchObject([{ status: 405, outcome: 'method_not_allowed' }]);
    });
  });

  describe('given a CompanyInfo request without a usable access token', () => {
    const expectAuthenticationFailed = (res: AxiosResponse<unknown>): void => {
      expect(res.status).toBe(401);
      expect(res.data).toEqual(AUTHENTICATION_FAULT);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.headers['intuit_tid']).toMatch(TID);
    };

    it.each([
      ['no Authorization header', null],
      ['a token the emulator never issued', 'never-issued-access-token'],
    ])('answers 401 AuthenticationFailed (3200) for %s', async (_label, token) => {
      await connect(emulator);

      expectAuthenticationFailed(await companyInfo(emulator, REALM_ID, token));
      expect(emulator.companyInfoRequests()).toMatchObject([
        { realmId: REALM_ID, status: 401, outcome: 'invalid_token' },
      ]);
    });

    it('answers 401 for a non-Bearer Authorization scheme', async () => {
      const { accessToken } = await connect(emulator);

      const res = await http.get(`${emulator.apiBaseUrl}/v3/company/${REALM_ID}/companyinfo/${REALM_ID}`, {
        headers: { Authorization: `Basic ${accessToken}` },
      });

      expectAuthenticationFailed(res);
    });

    it('answers 401 for the refresh token rotated away by a refresh, and for refresh tokens at all', async () => {
      const first = await connect(emulator);
      const second = tokensOf(await refresh(emulator, first.refreshToken));

      expectAuthenticationFailed(await companyInfo(emulator, REALM_ID, first.refreshToken));
      expectAuthenticationFailed(await companyInfo(emulator, REALM_ID, second.refreshToken));
      expect((await companyInfo(emulator, REALM_ID, second.accessToken)).status).toBe(200);
    });

    it('answers 401 for a token whose connection was revoked, even when it names another company', async () => {
      const { accessToken, refreshToken } = await connect(emulator);
      expect((await revoke(emulator, refreshToken)).status).toBe(200);

      expectAuthenticationFailed(await companyInfo(emulator, REALM_ID, accessToken));
      expectAuthenticationFailed(await companyInfo(emulator, OTHER_REALM_ID, accessToken));
    });

    it('answers 401 for a token of a first exchange revoked by a replayed code', async () => {
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const { accessToken } = tokensOf(await exchange(emulator, code));
      await exchange(emulator, code);

      expectAuthenticationFailed(await companyInfo(emulator, REALM_ID, accessToken));
    });
  });

  describe('given a fault on the CompanyInfo endpoint', () => {
    it('latency: delays the answer, then answers normally', async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'latency', latencyMs: 250 });
      const started = Date.now();

      const res = await companyInfo(emulator, REALM_ID, accessToken);

      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
      expect(res.status).toBe(200);
      expect(emulator.companyInfoRequests()).toMatchObject([{ status: 200, outcome: 'ok' }]);
    });

    it('status401: answers 401 AuthenticationFailed despite a good token', async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'status401' });

      const res = await companyInfo(emulator, REALM_ID, accessToken);

      expect(res.status).toBe(401);
      expect(res.data).toEqual(AUTHENTICATION_FAULT);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(emulator.isAccessTokenActive(accessToken)).toBe(true);
      expect(emulator.companyInfoRequests()).toMatchObject([{ status: 401, outcome: 'fault:status401' }]);
    });

    it("status403: answers 403 ApplicationAuthorizationFailed despite the token's own realm", async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'status403' });

      const res = await companyInfo(emulator, REALM_ID, accessToken);

      expect(res.status).toBe(403);
      expect(res.data).toEqual(AUTHORIZATION_FAULT);
      expect(emulator.companyInfoRequests()).toMatchObject([{ status: 403, outcome: 'fault:status403' }]);
    });

    it('wrong-cluster: answers 403 Accessing Wrong Cluster (007001)', async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'wrong-cluster' });

      const res = await companyInfo(emulator, REALM_ID, accessToken);

      expect(res.status).toBe(403);
      expect(res.data).toEqual({
        Fault: {
          Error: [
            { Message: 'message=Accessing Wrong Cluster; errorCode=007001; statusCode=403', code: '007001' },
          ],
          type: 'SERVICE',
        },
      });
      expect(emulator.companyInfoRequests()).toMatchObject([{ status: 403, outcome: 'fault:wrong-cluster' }]);
    });

    it.each([
      ['status500', 500],
      ['status503', 503],
    ] as const)('%s: answers %i with an HTML error page', async (mode, status) => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode });

      const res = await companyInfo(emulator, REALM_ID, accessToken);

      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['intuit_tid']).toMatch(TID);
      expect(emulator.companyInfoRequests()).toMatchObject([{ status, outcome: `fault:${mode}` }]);
    });

    it('status429: answers 429 ThrottleExceeded with Retry-After', async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'status429' });

      const res = await companyInfo(emulator, REALM_ID, accessToken);

      expect(res.status).toBe(429);
      expect(res.data).toEqual({ fault: { error: [{ message: 'ThrottleExceeded', code: '003001' }] } });
      expect(res.headers['retry-after']).toBe('1');
      expect(emulator.companyInfoRequests()).toMatchObject([{ status: 429, outcome: 'fault:status429' }]);
    });

    it('hang: never answers', async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'hang', times: 1 });

      const errorCode = await transportErrorCode(
        companyInfo(emulator, REALM_ID, accessToken, { timeout: 300 }),
      );

      expect(errorCode).toBe('ECONNABORTED');
      expect((await companyInfo(emulator, REALM_ID, accessToken)).status).toBe(200);
      expect(emulator.companyInfoRequests().map((r) => [r.status, r.outcome])).toEqual([
        [0, 'fault:hang'],
        [200, 'ok'],
      ]);
    });

    it('reset: drops the connection without answering', async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'reset', times: 1 });

      const errorCode = await transportErrorCode(companyInfo(emulator, REALM_ID, accessToken));

      expect(errorCode).toBe('ECONNRESET');
      expect(emulator.companyInfoRequests()).toMatchObject([{ status: 0, outcome: 'fault:reset' }]);
    });

    it('with times: affects only that many requests, then clears itself', async () => {
      const { accessToken } = await connect(emulator);
      emulator.setCompanyInfoFault({ mode: 'status503', times: 2 });

      const statuses = [];
      for (let i = 0; i < 3; i += 1)
        statuses.push((await companyInfo(emulator, REALM_ID, accessToken)).status);

      expect(statuses).toEqual([503, 503, 200]);
    });

    it('with times 0, or mode none, or after clearCompanyInfoFault(): answers normally', async () => {
      const { accessToken } = await connect(emulator);
      const statuses = [];

      emulator.setCompanyInfoFault({ mode: 'status500', times: 0 });
      statuses.push((await companyInfo(emulator, REALM_ID, accessToken)).status);
      emulator.setCompanyInfoFault({ mode: 'status500' });
      emulator.setCompanyInfoFault({ mode: 'none' });
      statuses.push((await companyInfo(emulator, REALM_ID, accessToken)).status);
      emulator.setCompanyInfoFault({ mode: 'status500' });
      emulator.clearCompanyInfoFault();
      statuses.push((await companyInfo(emulator, REALM_ID, accessToken)).status);

      expect(statuses).toEqual([200, 200, 200]);
    });

    it('is separate from the token endpoint faults, both ways', async () => {
      emulator.setCompanyInfoFault({ mode: 'status500' });
      const { accessToken } = await connect(emulator);
      emulator.clearCompanyInfoFault();
      emulator.setFault({ mode: 'status500' });

      expect((await companyInfo(emulator, REALM_ID, accessToken)).status).toBe(200);
      expect(emulator.tokenRequests().map((r) => r.status)).toEqual([200]);
    });
  });

  describe('given requests to the revocation endpoint', () => {
    it('counts every one, whatever its outcome, and nothing else', async () => {
      const { refreshToken } = await connect(emulator);
      await refresh(emulator, refreshToken);

      await revoke(emulator, refreshToken);
      await revoke(emulator, refreshToken, basic(CLIENT.clientId, 'wrong-secret'));
      await http.post(emulator.revocationEndpoint, 'not json', {
        headers: { Authorization: basic(CLIENT.clientId, CLIENT.clientSecret) },
      });
      const wrongMethod = await http.get(emulator.revocationEndpoint);

      expect(wrongMethod.status).toBe(405);
      expect(emulator.revocationRequests()).toBe(4);
      expect(emulator.revocationRequestRecords().map((r) => [r.status, r.outcome])).toEqual([
        [200, 'revoked'],
        [401, 'invalid_client'],
        [400, 'invalid_request'],
        [405, 'method_not_allowed'],
      ]);
    });
  });

  describe('given CompanyInfo requests have been logged', () => {
    it('names the realm and outcome on each line, never the token', async () => {
      const { accessToken } = await connect(emulator, OTHER_REALM_ID);
      logLines.length = 0;

      await companyInfo(emulator, OTHER_REALM_ID, accessToken, { minorVersion: '75' });
      await companyInfo(emulator, REALM_ID, accessToken);

      expect(logLines).toEqual([
        expect.stringContaining(`realm=${OTHER_REALM_ID} ok`),
        expect.stringContaining(`realm=${REALM_ID} realm_mismatch`),
      ]);
      expect(logLines.join('\n')).not.toContain(accessToken);
    });
  });

  describe('given a token fault scoped to the refresh_token grant', () => {
    it('leaves code exchanges alone, without spending its times on them', async () => {
      emulator.setFault({ mode: 'status503', times: 1, grantType: 'refresh_token' });

      const { refreshToken } = await connect(emulator);
      const faulted = await refresh(emulator, refreshToken);
      const retried = await refresh(emulator, refreshToken);

      expect(faulted.status).toBe(503);
      expect(retried.status).toBe(200);
      expect(emulator.tokenRequests('authorization_code').map((r) => [r.status, r.outcome])).toEqual([
        [200, 'issued'],
      ]);
      expect(emulator.tokenRequests('refresh_token').map((r) => [r.status, r.outcome])).toEqual([
        [503, 'fault:status503'],
        [200, 'refreshed'],
      ]);
      expect(emulator.refreshCount()).toBe(2);
    });

    it.each([
      ['status500', 500],
      ['status503', 503],
      ['status429', 429],
      ['invalid-client', 401],
    ] as const)('%s: answers %i and leaves the refresh token unrotated', async (mode, status) => {
      const { refreshToken } = await connect(emulator);
      emulator.setFault({ mode, grantType: 'refresh_token' });

      const res = await refresh(emulator, refreshToken);

      expect(res.status).toBe(status);
      expect(emulator.refreshTokenState(refreshToken)).toBe('active');
      emulator.clearFault();
      expect((await refresh(emulator, refreshToken)).status).toBe(200);
    });

    it('status429: sends Retry-After with the throttling answer', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setFault({ mode: 'status429', grantType: 'refresh_token', times: 1 });

      const res = await refresh(emulator, refreshToken);

      expect(res.headers['retry-after']).toBe('1');
      expect(res.data.error).toBe('throttled');
    });

    it('latency: delays the refresh, then rotates normally', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setFault({ mode: 'latency', latencyMs: 200, grantType: 'refresh_token', times: 1 });
      const started = Date.now();

      const res = await refresh(emulator, refreshToken);

      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      const rotated = tokensOf(res);
      expect(emulator.refreshTokenState(refreshToken)).toBe('rotated');
      expect(emulator.refreshTokenState(rotated.refreshToken)).toBe('active');
    });

    it('reset-after-consume: rotates at Intuit, then resets the connection, so the old refresh token is dead and the new one never arrives', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setFault({ mode: 'reset-after-consume', grantType: 'refresh_token', times: 1 });

      const errorCode = await transportErrorCode(refresh(emulator, refreshToken));

      expect(errorCode).toBe('ECONNRESET');
      expect(emulator.refreshTokenState(refreshToken)).toBe('rotated');
      expect(emulator.tokenRequests('refresh_token')).toEqual([
        expect.objectContaining({ status: 0, outcome: 'reset-after-consume:refreshed' }),
      ]);
      const retry = await refresh(emulator, refreshToken);
      expect(retry.status).toBe(400);
      expect(retry.data).toEqual({
        error: 'invalid_grant',
        error_description: 'Incorrect or invalid refresh token',
      });
      // The grant lives on, through a refresh token only Intuit knows.
      expect(emulator.disconnectCompany(REALM_ID)).toBe(1);
    });

    it('hang: rotates at Intuit and never answers', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setFault({ mode: 'hang', grantType: 'refresh_token', times: 1 });

      const errorCode = await transportErrorCode(
        tokenRequest(
          emulator,
          { grant_type: 'refresh_token', refresh_token: refreshToken },
          { timeout: 300 },
        ),
      );

      expect(errorCode).toBe('ECONNABORTED');
      expect(emulator.refreshTokenState(refreshToken)).toBe('rotated');
      expect((await refresh(emulator, refreshToken)).data.error).toBe('invalid_grant');
    });

    it('malformed: rotates at Intuit and answers 200 with a body that is not a token response', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setFault({ mode: 'malformed', grantType: 'refresh_token', times: 1 });

      const res = await refresh(emulator, refreshToken);

      expect(res.status).toBe(200);
      expect(typeof res.data.refresh_token).not.toBe('string');
      expect(emulator.refreshTokenState(refreshToken)).toBe('rotated');
    });
  });

  describe('given a token fault scoped to the authorization_code grant', () => {
    it('leaves refreshes alone, and still affects code exchanges', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setFault({ mode: 'status500', grantType: 'authorization_code' });

      const refreshed = await refresh(emulator, refreshToken);
      const code = emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const exchanged = await exchange(emulator, code);

      expect(refreshed.status).toBe(200);
      expect(exchanged.status).toBe(500);
      emulator.clearFault();
      expect((await exchange(emulator, code)).status).toBe(200);
    });
  });

  describe('given a fault on the revocation endpoint', () => {
    it('status500: answers 500 and revokes nothing', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setRevokeFault({ mode: 'status500' });

      const res = await revoke(emulator, refreshToken);

      expect(res.status).toBe(500);
      expect(emulator.refreshTokenState(refreshToken)).toBe('active');
      emulator.clearRevokeFault();
      expect((await revoke(emulator, refreshToken)).status).toBe(200);
      expect(emulator.refreshTokenState(refreshToken)).toBe('revoked');
    });

    it('status429: answers 429 with Retry-After and revokes nothing', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setRevokeFault({ mode: 'status429', times: 1 });

      const res = await revoke(emulator, refreshToken);

      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('1');
      expect(emulator.refreshTokenState(refreshToken)).toBe('active');
    });

    it('status400-empty: answers 400 with an empty body and revokes nothing', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setRevokeFault({ mode: 'status400-empty', times: 1 });

      const res = await revoke(emulator, refreshToken);

      expect(res.status).toBe(400);
      expect(res.data).toBe('');
      expect(emulator.refreshTokenState(refreshToken)).toBe('active');
    });

    it('hang: revokes and never answers', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setRevokeFault({ mode: 'hang', times: 1 });

      const errorCode = await transportErrorCode(
        http.post(
          emulator.revocationEndpoint,
          { token: refreshToken },
          {
            headers: { Authorization: basic(CLIENT.clientId, CLIENT.clientSecret) },
            timeout: 300,
          },
        ),
      );

      expect(errorCode).toBe('ECONNABORTED');
      expect(emulator.refreshTokenState(refreshToken)).toBe('revoked');
      expect(emulator.revocationRequestRecords()).toEqual([
        expect.objectContaining({ status: 0, outcome: 'hang:revoked' }),
      ]);
    });

    it('latency: delays the answer, then revokes normally', async () => {
      const { refreshToken } = await connect(emulator);
      emulator.setRevokeFault({ mode: 'latency', latencyMs: 200, times: 1 });
      const started = Date.now();

      const res = await revoke(emulator, refreshToken);

      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(res.status).toBe(200);
      expect(emulator.refreshTokenState(refreshToken)).toBe('revoked');
    });

    it('with times: affects only that many revocations, then clears itself', async () => {
      emulator.setRevokeFault({ mode: 'status500', times: 2 });

      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await revoke(emulator, 'whatever')).status);

      expect(statuses).toEqual([500, 500, 200]);
    });

    it('leaves the token endpoint alone, and is cleared by reset()', async () => {
      emulator.setRevokeFault({ mode: 'status500' });

      const { refreshToken } = await connect(emulator);
      expect((await refresh(emulator, refreshToken)).status).toBe(200);
      emulator.reset();
      expect((await revoke(emulator, 'whatever')).status).toBe(200);
    });
  });

  describe('given a grant already revoked', () => {
    it('answers a second revocation with 400 and an empty body, as Intuit does', async () => {
      const { accessToken, refreshToken } = await connect(emulator);

      const first = await revoke(emulator, refreshToken);
      const second = await revoke(emulator, refreshToken);
      const byAccessToken = await revoke(emulator, accessToken);

      expect([first.status, second.status, byAccessToken.status]).toEqual([200, 400, 400]);
      expect([first.data, second.data, byAccessToken.data]).toEqual(['', '', '']);
      expect(emulator.revocationRequestRecords().map((r) => r.outcome)).toEqual([
        'revoked',
        'already_revoked',
        'already_revoked',
      ]);
    });
  });

  describe('given a user who disconnects the app inside QuickBooks', () => {
    it("revokes every grant of that company, and no other company's", async () => {
      const first = await connect(emulator);
      const second = await connect(emulator);
      const elsewhere = await connect(emulator, OTHER_REALM_ID);

      expect(emulator.disconnectCompany(REALM_ID)).toBe(2);

      for (const { accessToken, refreshToken } of [first, second]) {
        expect(emulator.refreshTokenState(refreshToken)).toBe('revoked');
        expect((await refresh(emulator, refreshToken)).data.error).toBe('invalid_grant');
        expect((await companyInfo(emulator, REALM_ID, accessToken)).status).toBe(401);
      }
      expect((await refresh(emulator, elsewhere.refreshToken)).status).toBe(200);
      expect(emulator.revocationRequests()).toBe(0);
    });
  });

  describe('given token lifetimes set at run time', () => {
    it('issues access tokens that expire as set, so the next use needs a refresh', async () => {
      emulator.setAccessTokenLifetime(0);

      const res = await exchange(
        emulator,
        emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI }),
      );

      expect(res.data.expires_in).toBe(0);
      const { accessToken, refreshToken } = tokensOf(res);
      expect(emulator.isAccessTokenActive(accessToken)).toBe(false);
      expect((await companyInfo(emulator, REALM_ID, accessToken)).status).toBe(401);
      emulator.setAccessTokenLifetime(120);
      const refreshed = await refresh(emulator, refreshToken);
      expect(refreshed.data.expires_in).toBe(120);
      expect((await companyInfo(emulator, REALM_ID, tokensOf(refreshed).accessToken)).status).toBe(200);
    });

    it('issues refresh tokens that expire as set, answering invalid_grant once they have', async () => {
      emulator.setRefreshTokenLifetime(0);

      const { refreshToken } = await connect(emulator);

      expect(emulator.refreshTokenState(refreshToken)).toBe('expired');
      expect((await refresh(emulator, refreshToken)).data.error).toBe('invalid_grant');
    });

    it('restores the configured lifetimes on reset()', async () => {
      emulator.setAccessTokenLifetime(5);
      emulator.setRefreshTokenLifetime(5);

      emulator.reset();
      const res = await exchange(
        emulator,
        emulator.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI }),
      );

      expect(res.data.expires_in).toBe(3600);
      expect(res.data.x_refresh_token_expires_in).toBe(8_726_400);
    });
  });

  describe('given an emulator with a request hanging', () => {
    it('closes promptly by destroying the hung socket', async () => {
      const own = await start();
      own.setFault({ mode: 'hang' });
      const pending = transportErrorCode(
        exchange(own, own.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI })),
      );
      await sleep(100);
      const started = Date.now();

      await own.close();

      expect(Date.now() - started).toBeLessThan(1000);
      expect(await pending).toBe('ECONNRESET');
    });
  });
});
