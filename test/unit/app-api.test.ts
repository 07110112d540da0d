/**
 * The app API (README "App API") as the app sees it: each route's statuses and JSON bodies, the
 * headers every answer carries, and what is logged. The token lifecycle behind it runs for real
 * over the in-memory connections store and a scripted token endpoint.
 */
import type { ClientCredentials } from '../../lambdas/core/config';
import type { NewConnection } from '../../lambdas/core/connection-store';
import { ConfigError, StorageUnavailableError } from '../../lambdas/core/errors';
import type { TokenRuntime } from '../../lambdas/core/runtime';
import { CipherUnavailableError, TokenDecryptionError } from '../../lambdas/core/token-cipher';
import type { RevokeOutcome, TokenRevoker } from '../../lambdas/core/token-endpoint';
import type { ApiRequest } from '../../lambdas/handlers/api/app-api';
import { handleApiRequest } from '../../lambdas/handlers/api/app-api';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import { CapturingTelemetry } from './fakes/capturing-telemetry';
import { FakeClock } from './fakes/fake-clock';
import { fail, FAKE_TOKENS, FakeTokenEndpoint } from './fakes/fake-token-endpoint';
import { InMemoryConnectionStore } from './fakes/in-memory-connection-store';
import { CREDENTIALS, FakeCredentials, serviceConfig } from './fakes/service-config';

const T0 = Date.UTC(2026, 5, 1, 9, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REALM = '9130357712345678';
const CALLER = 'arn:aws:sts::123456789012:assumed-role/ApiCallerRole/app';
const RECONNECT_URL = 'https://connect.example.com/connect';
const ACCESS = 'canary-access-seed-0001';
const REFRESH = 'canary-refresh-seed-0001';
/** Every refresh token these tests store or rotate in: none may ever be in a body or a log (H2). */
const ANY_REFRESH_TOKEN = /canary-refresh/;
const iso = (epochMs: number) => new Date(epochMs).toISOString();

interface RevokeCall {
  readonly refreshToken: string;
  readonly credentials: ClientCredentials;
  readonly timeoutMs: number;
}

class RecordingRevoker implements TokenRevoker {
  readonly calls: RevokeCall[] = [];
  outcome: RevokeOutcome = { kind: 'revoked', intuitTid: '1-tid-revoked' };
  async revoke(refreshToken: string, credentials: ClientCredentials, timeoutMs: number) {
    this.calls.push({ refreshToken, credentials, timeoutMs });
    return this.outcome;
  }
}

function granted(changes: Partial<NewConnection> = {}): NewConnection {
  return {
    realmId: REALM,
    grantedAt: T0 - DAY,
    accessToken: ACCESS,
    refreshToken: REFRESH,
    accessTokenExpiresAt: T0 + HOUR,
    refreshTokenExpiresAt: T0 + 90 * DAY,
    refreshTokenHardExpiresAt: T0 + 1000 * DAY,
    qboEnvironment: 'sandbox',
    companyName: 'Canary Bakery LLC',
    ...changes,
  };
}

class Api {
  readonly clock = new FakeClock(T0);
  readonly store = new InMemoryConnectionStore();
  readonly endpoint = new FakeTokenEndpoint();
  readonly credentials = new FakeCredentials();
  readonly revoker = new RecordingRevoker();
  readonly telemetry = new CapturingTelemetry();
  /** Replaces the runtime factory (a configuration that does not load). */
  runtime: () => TokenRuntime = () => ({
    config: serviceConfig(),
    credentials: this.credentials,
    connections: this.store,
    tokenEndpoint: this.endpoint,
    revoker: this.revoker,
  });

  connect(changes: Partial<NewConnection> = {}): this {
    expect(this.store.putVerified(granted(changes))).toBe('stored');
    return this;
  }

  /** One request, and the rules every answer keeps (H2, H5), checked on each. */
  async call(
    method: string,
    path: string,
    options: { body?: string; rawQuery?: string; caller?: string | null } = {},
  ): Promise<HttpResponse> {
    const request: ApiRequest = {
      method,
      path,
      rawQuery: options.rawQuery ?? '',
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.caller !== null ? { caller: options.caller ?? CALLER } : {}),
      deadline: this.clock.now() + 25_000,
    };
    const response = await handleApiRequest(request, {
      runtime: () => this.runtime(),
      telemetry: this.telemetry,
      clock: this.clock.now,
      sleep: this.clock.sleep,
      newHolderId: () => `holder-${this.clock.now()}`,
    });
    expect(response.headers['Cache-Control']).toBe('no-store');
    expect(response.cookies ?? []).toEqual([]);
    const names = Object.keys(response.headers).map((h) => h.toLowerCase());
    expect(names).not.toContain('set-cookie');
    expect(names.filter((h) => h.startsWith('access-control-'))).toEqual([]);
    if (response.statusCode === 204) expect(response.body).toBe('');
    else expect(response.headers['Content-Type']).toMatch(/^application\/json(;|$)/);
    expect(response.body).not.toMatch(ANY_REFRESH_TOKEN);
    return response;
  }

  accessToken(body?: string, realmId = REALM) {
    return this.call('POST', `/api/connections/${realmId}/access-token`, body !== undefined ? { body } : {});
  }
}

const json = (response: HttpResponse): unknown => JSON.parse(response.body);

function expectError(response: HttpResponse, status: number, error: string): void {
  expect(response.statusCode).toBe(status);
  expect(json(response)).toEqual({ error, message: expect.stringMatching(/^\S.*\.$/) });
}

describe('the app API', () => {
  it('H1: refuses a request without an authenticated caller with 401 unauthorized, before reading anything', async () => {
    const api = new Api().connect();
    const reads = jest.spyOn(api.store, 'get');
    const response = await api.call('POST', `/api/connections/${REALM}/access-token`, { caller: null });
    expectError(response, 401, 'unauthorized');
    expect(reads).not.toHaveBeenCalled();
    expect(api.telemetry.single('API_REQUEST_REFUSED').fields).toEqual({
      status: 401,
      error: 'unauthorized',
    });
  });

  describe('POST /api/connections/{realmId}/access-token', () => {
    it('200: the stored access token with its expiry, environment and API base URL, and TOKEN_SERVED logs who without the token', async () => {
      const api = new Api().connect();
      const response = await api.accessToken();
      expect(response.statusCode).toBe(200);
      expect(json(response)).toEqual({
        realmId: REALM,
        accessToken: ACCESS,
        tokenType: 'bearer',
        expiresAt: iso(T0 + HOUR),
        qboEnvironment: 'sandbox',
        apiBaseUrl: 'https://sandbox-quickbooks.api.intuit.com',
      });
      expect(api.endpoint.refreshes).toHaveLength(0);
      expect(api.telemetry.single('TOKEN_SERVED').fields).toEqual({
        realmId: REALM,
        caller: CALLER,
        refreshed: false,
        expiresAt: iso(T0 + HOUR),
      });
      expect(api.telemetry.dump()).not.toContain(ACCESS);
      expect(api.telemetry.dump()).not.toMatch(ANY_REFRESH_TOKEN);
    });

    it('200: a production company gets the production accounting API', async () => {
      const api = new Api().connect({ qboEnvironment: 'production' });
      expect(json(await api.accessToken())).toMatchObject({
        qboEnvironment: 'production',
        apiBaseUrl: 'https://quickbooks.api.intuit.com',
      });
    });

    it.each([
      ['no body (300 s by default)', undefined, T0 + 200_000, 1],
      ['no body, 400 s left', undefined, T0 + 400_000, 0],
      ['{} (300 s by default)', '{}', T0 + 200_000, 1],
      ['minValidSeconds 0, 1 s left', '{"minValidSeconds": 0}', T0 + 1000, 0],
      ['minValidSeconds 3300, 3000 s left', '{"minValidSeconds": 3300}', T0 + 3_000_000, 1],
    ])(
      '200 with %s: refreshes first only when the stored token is not valid that long',
      async (_case, body, accessTokenExpiresAt, refreshes) => {
        const api = new Api().connect({ accessTokenExpiresAt });
        const response = await api.accessToken(body);
        expect(response.statusCode).toBe(200);
        expect(api.endpoint.refreshes).toHaveLength(refreshes);
        expect(json(response)).toMatchObject({
          accessToken: refreshes === 1 ? 'canary-access-token-rotated-1' : ACCESS,
          expiresAt: iso(refreshes === 1 ? T0 + FAKE_TOKENS.expiresInSeconds * 1000 : accessTokenExpiresAt),
        });
      },
    );

    it('404 connection_not_found for a company never connected', async () => {
      expectError(await new Api().accessToken(), 404, 'connection_not_found');
    });

    it('409 reconnect_required (refresh_token_invalid) with the URL that starts a new flow, after Intuit refused the refresh token', async () => {
      const api = new Api().connect({ accessTokenExpiresAt: T0 - 1 });
      api.endpoint.refreshScript = [fail('invalid_grant', { status: 400, oauthError: 'invalid_grant' })];
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await api.accessToken();
        expect(response.statusCode).toBe(409);
        expect(json(response)).toEqual({
          error: 'reconnect_required',
          message: expect.any(String),
          reason: 'refresh_token_invalid',
          reconnectUrl: RECONNECT_URL,
        });
      }
      expect(api.endpoint.refreshes).toHaveLength(1);
    });

    it("A5: with signed links required, the 409's reconnectUrl is the app's reconnect page with the realmId", async () => {
      const api = new Api().connect({ accessTokenExpiresAt: T0 - 1, refreshTokenExpiresAt: T0 - 1 });
      api.runtime = () => ({
        config: serviceConfig({
          requireSignedConnectLinks: true,
          appReconnectUrl: 'https://app.example.com/quickbooks/reconnect',
        }),
        credentials: api.credentials,
        connections: api.store,
        tokenEndpoint: api.endpoint,
        revoker: api.revoker,
      });
      const response = await api.accessToken();
      expect(response.statusCode).toBe(409);
      expect(json(response)).toMatchObject({
        reconnectUrl: `https://app.example.com/quickbooks/reconnect?realmId=${REALM}`,
      });
    });

    it('409 reconnect_required (refresh_token_expired) once the refresh token is past its expiry', async () => {
      const api = new Api().connect({ accessTokenExpiresAt: T0 - 1, refreshTokenExpiresAt: T0 - 1 });
      const response = await api.accessToken();
      expect(response.statusCode).toBe(409);
      expect(json(response)).toMatchObject({ reason: 'refresh_token_expired', reconnectUrl: RECONNECT_URL });
    });

    it('503 temporarily_unavailable with Retry-After when the refresh answer was ambiguous; the tokens are kept', async () => {
      const api = new Api().connect({ accessTokenExpiresAt: T0 - 1 });
      api.endpoint.refreshScript = [fail('ambiguous', { status: 502 })];
      const response = await api.accessToken();
      expectError(response, 503, 'temporarily_unavailable');
      expect(response.headers['Retry-After']).toBe('30');
      expect(api.store.connections.get(REALM)?.tokens?.refreshToken).toBe(REFRESH);

      api.clock.advance(12_000);
      const again = await api.accessToken();
      expect(again.headers['Retry-After']).toBe('18');
      expect(api.endpoint.refreshes).toHaveLength(1);
    });

    it.each([
      ['bad JSON', '{"minValidSeconds": '],
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['an unknown field', '{"minValidSeconds": 300, "scope": "all"}'],
      ['minValidSeconds -1', '{"minValidSeconds": -1}'],
      ['minValidSeconds 3301', '{"minValidSeconds": 3301}'],
      ['minValidSeconds 1.5', '{"minValidSeconds": 1.5}'],
      ['minValidSeconds as a string', '{"minValidSeconds": "300"}'],
      ['a body over 4 KiB', `{"minValidSeconds": 300${' '.repeat(5000)}}`],
    ])('400 invalid_request for %s, without reading the connection', async (_case, body) => {
      const api = new Api().connect();
      const reads = jest.spyOn(api.store, 'get');
      expectError(await api.accessToken(body), 400, 'invalid_request');
      expect(reads).not.toHaveBeenCalled();
    });

    it.each(['abc', '12a4', '-1', '%31%32x'])(
      '400 invalid_request for a realmId that is not digits (%s)',
      async (realmId) => {
        const api = new Api();
        expectError(await api.accessToken(undefined, realmId), 400, 'invalid_request');
        expectError(await api.call('GET', `/api/connections/${realmId}`), 400, 'invalid_request');
        expectError(await api.call('DELETE', `/api/connections/${realmId}`), 400, 'invalid_request');
      },
    );
  });

  describe('GET /api/connections/{realmId}', () => {
    it('200: the state and times of the connection, never a token', async () => {
      const api = new Api().connect({ tenantId: 'tenant-7' });
      const response = await api.call('GET', `/api/connections/${REALM}`);
      expect(response.statusCode).toBe(200);
      expect(json(response)).toEqual({
        realmId: REALM,
        status: 'active',
        companyName: 'Canary Bakery LLC',
        tenantId: 'tenant-7',
        qboEnvironment: 'sandbox',
        connectedAt: iso(T0 - DAY),
        accessTokenExpiresAt: iso(T0 + HOUR),
        refreshTokenExpiresAt: iso(T0 + 90 * DAY),
        refreshTokenHardExpiresAt: iso(T0 + 1000 * DAY),
      });
      expect(response.body).not.toContain(ACCESS);
    });

    it('200 after a refresh shows lastRefreshedAt and the new times', async () => {
      const api = new Api().connect({ accessTokenExpiresAt: T0 - 1 });
      await api.accessToken();
      expect(json(await api.call('GET', `/api/connections/${REALM}`))).toMatchObject({
        status: 'active',
        lastRefreshedAt: iso(T0),
        accessTokenExpiresAt: iso(T0 + FAKE_TOKENS.expiresInSeconds * 1000),
      });
    });

    it('reads the connection without its tokens', async () => {
      const api = new Api().connect();
      const reads = jest.spyOn(api.store, 'get');
      await api.call('GET', `/api/connections/${REALM}`);
      expect(reads).toHaveBeenCalledWith(REALM, { tokens: false });
    });

    it('404 connection_not_found when unknown', async () => {
      expectError(await new Api().call('GET', `/api/connections/${REALM}`), 404, 'connection_not_found');
    });
  });

  describe('GET /api/connections?tenantId=T', () => {
    it("200: the tenant's connections as the same objects, and no other tenant's", async () => {
      const api = new Api()
        .connect({ realmId: '1000000000000001', tenantId: 'tenant-a' })
        .connect({ realmId: '1000000000000002', tenantId: 'tenant-a', companyName: 'Second Co' })
        .connect({ realmId: '1000000000000003', tenantId: 'tenant-b' })
        .connect({ realmId: '1000000000000004' });
      const response = await api.call('GET', '/api/connections', { rawQuery: 'tenantId=tenant-a' });
      expect(response.statusCode).toBe(200);
      const body = json(response) as { connections: { realmId: string }[] };
      expect(Object.keys(body)).toEqual(['connections']);
      expect(body.connections.map((c) => c.realmId)).toEqual(['1000000000000001', '1000000000000002']);
      const single = json(await api.call('GET', '/api/connections/1000000000000002'));
      expect(body.connections[1]).toEqual(single);
      expect(response.body).not.toContain(ACCESS);
    });

    it('200 with no connections for a tenant that has none', async () => {
      const response = await new Api()
        .connect()
        .call('GET', '/api/connections', { rawQuery: 'tenantId=nobody' });
      expect(json(response)).toEqual({ connections: [] });
    });

    it('pages by cursor past 100 connections', async () => {
      const api = new Api();
      for (let i = 0; i < 101; i++)
        api.connect({ realmId: `20000000${String(i).padStart(8, '0')}`, tenantId: 'big' });
      const first = json(await api.call('GET', '/api/connections', { rawQuery: 'tenantId=big' })) as {
        connections: unknown[];
        cursor?: string;
      };
      expect(first.connections).toHaveLength(100);
      expect(typeof first.cursor).toBe('string');
      const second = json(
        await api.call('GET', '/api/connections', {
          rawQuery: new URLSearchParams({ tenantId: 'big', cursor: first.cursor ?? '' }).toString(),
        }),
      );
      expect(second).toEqual({ connections: [expect.objectContaining({ realmId: '2000000000000100' })] });
    });

    it.each([
      ['no tenantId', ''],
      ['an empty tenantId', 'tenantId='],
      ['two tenantIds', 'tenantId=a&tenantId=b'],
      ['a tenantId with a space', 'tenantId=a%20b'],
      ['a cursor this service did not issue', 'tenantId=a&cursor=not-a-cursor'],
      ['two cursors', 'tenantId=a&cursor=x&cursor=y'],
    ])('400 invalid_request for %s', async (_case, rawQuery) => {
      expectError(await new Api().call('GET', '/api/connections', { rawQuery }), 400, 'invalid_request');
    });
  });

  describe('DELETE /api/connections/{realmId}', () => {
    it('D7: 204: deletes the tokens, keeps the record disconnected, then revokes the removed refresh token once, bounded to 2 s', async () => {
      const api = new Api().connect();
      const response = await api.call('DELETE', `/api/connections/${REALM}`);
      expect(response.statusCode).toBe(204);
      const stored = api.store.connections.get(REALM);
      expect(stored).toMatchObject({ status: 'DISCONNECTED', disconnectedAt: T0 });
      expect(stored?.tokens).toBeUndefined();
      expect(api.revoker.calls).toEqual([
        { refreshToken: REFRESH, credentials: CREDENTIALS, timeoutMs: 2000 },
      ]);
      expect(json(await api.call('GET', `/api/connections/${REALM}`))).toEqual({
        realmId: REALM,
        status: 'disconnected',
        companyName: 'Canary Bakery LLC',
        qboEnvironment: 'sandbox',
        connectedAt: iso(T0 - DAY),
        reconnectReason: 'disconnected',
      });
      expect(api.telemetry.single('CONNECTION_DISCONNECTED').fields).toEqual({
        realmId: REALM,
        revoking: true,
      });
    });

    it('D7: afterwards access-token answers 409 reconnect_required with reason disconnected', async () => {
      const api = new Api().connect();
      await api.call('DELETE', `/api/connections/${REALM}`);
      const response = await api.accessToken();
      expect(response.statusCode).toBe(409);
      expect(json(response)).toMatchObject({ reason: 'disconnected', reconnectUrl: RECONNECT_URL });
      expect(api.endpoint.refreshes).toHaveLength(0);
    });

    it('D7: a failed revoke still answers 204 and logs REVOKE_FAILED; the deletion stands', async () => {
      const api = new Api().connect();
      api.revoker.outcome = { kind: 'failed', status: 503, intuitTid: '1-tid-revoke' };
      const response = await api.call('DELETE', `/api/connections/${REALM}`);
      expect(response.statusCode).toBe(204);
      expect(api.store.connections.get(REALM)?.tokens).toBeUndefined();
      expect(api.telemetry.single('REVOKE_FAILED').fields).toMatchObject({
        realmId: REALM,
        status: 503,
        intuitTid: '1-tid-revoke',
      });
    });

    it('credentials that cannot be read skip the revoke, log REVOKE_FAILED and still answer 204', async () => {
      const api = new Api().connect();
      const failing = new FakeCredentials(() => {
        throw new ConfigError(['QBO client secret is a placeholder']);
      });
      const runtime = api.runtime;
      api.runtime = () => ({ ...runtime(), credentials: failing });
      expect((await api.call('DELETE', `/api/connections/${REALM}`)).statusCode).toBe(204);
      expect(api.revoker.calls).toHaveLength(0);
      expect(api.telemetry.single('REVOKE_FAILED').fields).toMatchObject({ reason: 'credentials' });
    });

    it('a second DELETE answers 204 with nothing left to revoke; an unknown company 404', async () => {
      const api = new Api().connect();
      await api.call('DELETE', `/api/connections/${REALM}`);
      expect((await api.call('DELETE', `/api/connections/${REALM}`)).statusCode).toBe(204);
      expect(api.revoker.calls).toHaveLength(1);
      expectError(await api.call('DELETE', '/api/connections/5550000000'), 404, 'connection_not_found');
    });
  });

  describe('unknown routes and methods under /api/', () => {
    it.each([
      ['GET', '/api/nothing-here'],
      ['POST', '/api/connections/123/refresh-token'],
      ['GET', '/api/'],
    ])('%s %s: 404 not_found in JSON', async (method, path) => {
      expectError(await new Api().call(method, path), 404, 'not_found');
    });

    it.each([
      ['PUT', `/api/connections/${REALM}`, 'GET, DELETE'],
      ['GET', `/api/connections/${REALM}/access-token`, 'POST'],
      ['DELETE', '/api/connections', 'GET'],
    ])('%s %s: 405 method_not_allowed with Allow: %s', async (method, path, allow) => {
      const response = await new Api().call(method, path);
      expectError(response, 405, 'method_not_allowed');
      expect(response.headers['Allow']).toBe(allow);
    });
  });

  describe('failures behind the routes', () => {
    it('storage that does not answer: 503 with Retry-After', async () => {
      const api = new Api().connect();
      jest
        .spyOn(api.store, 'get')
        .mockRejectedValue(
          new StorageUnavailableError('getConnection', 'ProvisionedThroughputExceededException'),
        );
      const response = await api.accessToken();
      expectError(response, 503, 'temporarily_unavailable');
      expect(Number(response.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
      expect(api.telemetry.codes()).toContain('STORAGE_UNAVAILABLE');
    });

    it('a key service that does not answer: 503 with Retry-After', async () => {
      const api = new Api().connect();
      jest.spyOn(api.store, 'get').mockRejectedValue(new CipherUnavailableError('decrypt'));
      const response = await api.accessToken();
      expectError(response, 503, 'temporarily_unavailable');
      expect(Number(response.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
      expect(api.telemetry.codes()).toContain('KEY_SERVICE_UNAVAILABLE');
    });

    it('stored tokens that do not decrypt: 500 internal_error and TOKEN_DECRYPT_FAILED', async () => {
      const api = new Api().connect();
      jest.spyOn(api.store, 'get').mockRejectedValue(new TokenDecryptionError(REALM));
      expectError(await api.accessToken(), 500, 'internal_error');
      expect(api.telemetry.single('TOKEN_DECRYPT_FAILED').fields).toEqual({ realmId: REALM });
    });

    it('a configuration that does not load: 500 not_configured', async () => {
      const api = new Api();
      api.runtime = () => {
        throw new ConfigError(['QBO_REDIRECT_URI is not set']);
      };
      expectError(await api.accessToken(), 500, 'not_configured');
      expect(api.telemetry.codes()).toContain('CONFIG_INVALID');
    });
  });

  it('H5: every answer, errors included, is JSON, never cached, without cookies or CORS headers; a 204 has no body to type', async () => {
    const api = new Api().connect({ tenantId: 'tenant-h5' });
    const responses = [
      await api.call('POST', `/api/connections/${REALM}/access-token`, { caller: null }),
      await api.accessToken(),
      await api.accessToken('[]'),
      await api.accessToken(undefined, '5550000000'),
      await api.call('GET', `/api/connections/${REALM}`),
      await api.call('GET', '/api/connections', { rawQuery: 'tenantId=tenant-h5' }),
      await api.call('PUT', `/api/connections/${REALM}`),
      await api.call('GET', '/api/elsewhere'),
      await api.call('DELETE', `/api/connections/${REALM}`),
      await api.accessToken(),
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([401, 200, 400, 404, 200, 200, 405, 404, 204, 409]);
    for (const response of responses) {
      expect(response.headers['Cache-Control']).toBe('no-store');
      if (response.statusCode === 204) expect(response.headers['Content-Type']).toBeUndefined();
      else {
        expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
        expect(() => json(response)).not.toThrow();
      }
    }
  });

  it('H2: across every route and outcome, no body and no log line carries the refresh token', async () => {
    const api = new Api()
      .connect({ accessTokenExpiresAt: T0 - 1, tenantId: 'tenant-h3' })
      .connect({ realmId: '1000000000000009', tenantId: 'tenant-h3' });
    const bodies: string[] = [];
    for (const response of [
      await api.accessToken(),
      await api.accessToken('{"minValidSeconds": 3300}'),
      await api.call('GET', `/api/connections/${REALM}`),
      await api.call('GET', '/api/connections', { rawQuery: 'tenantId=tenant-h3' }),
      await api.call('DELETE', '/api/connections/1000000000000009'),
      await api.accessToken(undefined, '1000000000000009'),
    ])
      bodies.push(response.body);
    expect(bodies.join('\n')).not.toMatch(ANY_REFRESH_TOKEN);
    expect(api.telemetry.dump()).not.toMatch(ANY_REFRESH_TOKEN);
    expect(api.telemetry.dump()).not.toMatch(/canary-access/);
    expect(api.telemetry.dump()).not.toContain(CREDENTIALS.clientSecret);
  });
});
