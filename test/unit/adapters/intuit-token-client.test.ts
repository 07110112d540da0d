import { inspect } from 'node:util';
import { basicAuthorization, IntuitTokenClient } from '../../../lambdas/adapters/intuit-token-client';
import type { ClientCredentials } from '../../../lambdas/core/config';
import { TokenEndpointError } from '../../../lambdas/core/token-endpoint';
import type { Script } from '../fakes/scripted-server';
import { closedPort, json, ScriptedServer } from '../fakes/scripted-server';

const CREDENTIALS: ClientCredentials = {
  clientId: 'ABcanaryClientId0001',
  clientSecret: 'canary-client-secret-7Q9',
  environment: 'sandbox',
};
const CODE = 'AB11canaryAuthCode0042xYz';
const REDIRECT_URI = 'https://connect.example.com/callback?tenant=a%20b';
const TID = '1-65a4f0c2-7d3b2a1e9f8c6b5a4d3e2f10';
const TOKEN_BODY = {
  token_type: 'bearer',
  access_token: 'canary-access-token',
  refresh_token: 'canary-refresh-token',
  expires_in: 3600,
  x_refresh_token_expires_in: 8_726_400,
  x_refresh_token_hard_expires_in: 157_680_000,
};

let servers: ScriptedServer[] = [];
async function serve(script: Script): Promise<{ server: ScriptedServer; client: IntuitTokenClient }> {
  const server = await ScriptedServer.start(script);
  servers.push(server);
  const client = new IntuitTokenClient({
    tokenEndpoint: `${server.url}/oauth2/v1/tokens/bearer`,
    redirectUri: REDIRECT_URI,
  });
  return { server, client };
}

async function failureOf(promise: Promise<unknown>): Promise<TokenEndpointError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TokenEndpointError))
    throw new Error(`expected a TokenEndpointError, got ${String(error)}`);
  return error;
}

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('IntuitTokenClient.exchangeCode', () => {
  describe('given Intuit answers with tokens', () => {
    it('returns the tokens and the intuit_tid', async () => {
      const { client } = await serve(json(200, TOKEN_BODY, { intuit_tid: TID }));
      await expect(client.exchangeCode(CODE, CREDENTIALS, 2000)).resolves.toEqual({
        tokens: {
          accessToken: 'canary-access-token',
          refreshToken: 'canary-refresh-token',
          expiresInSeconds: 3600,
          refreshTokenExpiresInSeconds: 8_726_400,
          refreshTokenHardExpiresInSeconds: 157_680_000,
        },
        intuitTid: TID,
      });
    });

    it('C5: sends the client credentials in HTTP Basic and nowhere else', async () => {
      const { server, client } = await serve(json(200, TOKEN_BODY));
      await client.exchangeCode(CODE, CREDENTIALS, 2000);
      const [request] = server.requests;
      expect(request?.method).toBe('POST');
      expect(request?.headers.authorization).toBe(
        `Basic ${Buffer.from(`${CREDENTIALS.clientId}:${CREDENTIALS.clientSecret}`).toString('base64')}`,
      );
      expect(request?.url).toBe('/oauth2/v1/tokens/bearer');
      expect(request?.url).not.toContain(CREDENTIALS.clientId);
      expect(request?.body).not.toContain(CREDENTIALS.clientSecret);
      expect(request?.body).not.toContain(CREDENTIALS.clientId);
    });

    it('C5/A3: posts a form with grant_type, code and the configured redirect_uri byte for byte', async () => {
      const { server, client } = await serve(json(200, TOKEN_BODY));
      await client.exchangeCode(CODE, CREDENTIALS, 2000);
      const [request] = server.requests;
      expect(request?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
      expect(request?.headers.accept).toMatch(/application\/json/);
      const form = new URLSearchParams(request?.body);
      expect([...form.keys()].sort()).toEqual(['code', 'grant_type', 'redirect_uri']);
      expect(form.get('grant_type')).toBe('authorization_code');
      expect(form.get('code')).toBe(CODE);
      expect(form.get('redirect_uri')).toBe(REDIRECT_URI);
      expect(request?.url).not.toContain(CODE);
    });

    it('ignores an intuit_tid that is not a plain identifier', async () => {
      const { client } = await serve(json(200, TOKEN_BODY, { intuit_tid: 'x y <script>' }));
      const result = await client.exchangeCode(CODE, CREDENTIALS, 2000);
      expect(result).not.toHaveProperty('intuitTid');
    });
  });

  describe('given a 200 whose body is not a valid token response (C6)', () => {
    const without = (field: keyof typeof TOKEN_BODY): Record<string, unknown> =>
      Object.fromEntries(Object.entries(TOKEN_BODY).filter(([key]) => key !== field));
    it.each([
      ['not JSON', '<html>Service Unavailable</html>'],
      ['empty', ''],
      ['a JSON array', '[]'],
      ['missing access_token', without('access_token')],
      ['missing x_refresh_token_expires_in', without('x_refresh_token_expires_in')],
      ['token_type mac', { ...TOKEN_BODY, token_type: 'mac' }],
      ['expires_in as a string', { ...TOKEN_BODY, expires_in: '3600' }],
      ['an empty refresh_token', { ...TOKEN_BODY, refresh_token: '' }],
      ['a negative expires_in', { ...TOKEN_BODY, expires_in: -1 }],
    ])('C6: classifies a body that is %s as malformed, after one request', async (_label, body) => {
      const { server, client } = await serve(json(200, body, { intuit_tid: TID }));
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('malformed');
      expect(error.details).toMatchObject({ status: 200, intuitTid: TID });
      expect(server.requests).toHaveLength(1);
    });

    it('C6: accepts token_type "Bearer" in any case', async () => {
      const { client } = await serve(json(200, { ...TOKEN_BODY, token_type: 'Bearer' }));
      await expect(client.exchangeCode(CODE, CREDENTIALS, 2000)).resolves.toHaveProperty('tokens');
    });
  });

  describe('given Intuit answers with an error (C7)', () => {
    it('C7: classifies 400 invalid_grant, with the intuit_tid header', async () => {
      const { server, client } = await serve(
        json(
          400,
          { error: 'invalid_grant', error_description: 'Token invalid <b>raw</b>' },
          { intuit_tid: TID },
        ),
      );
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('invalid_grant');
      expect(error.details).toEqual({ status: 400, intuitTid: TID, oauthError: 'invalid_grant' });
      expect(JSON.stringify(error)).not.toContain('raw');
      expect(server.requests).toHaveLength(1);
    });

    it('C7: classifies 401 as invalid_client, with or without a body', async () => {
      const { client } = await serve(json(401, { error: 'invalid_client' }));
      expect((await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000))).kind).toBe('invalid_client');
      const bare = await serve(json(401, ''));
      expect((await failureOf(bare.client.exchangeCode(CODE, CREDENTIALS, 2000))).kind).toBe(
        'invalid_client',
      );
    });

    it('C7: classifies another OAuth error as oauth_error', async () => {
      const { client } = await serve(json(400, { error: 'invalid_request' }));
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('oauth_error');
      expect(error.details.oauthError).toBe('invalid_request');
    });

    it('C7: keeps no free-text error value', async () => {
      const { client } = await serve(json(400, { error: 'Something <bad> happened' }));
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.details).not.toHaveProperty('oauthError');
      expect(error.kind).toBe('ambiguous');
    });

    it.each([500, 502, 503, 504, 429])(
      'C3/G2: classifies %i as ambiguous and never retries',
      async (status) => {
        const { server, client } = await serve(json(status, { error: 'server_error' }, { intuit_tid: TID }));
        const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
        expect(error.kind).toBe('ambiguous');
        expect(error.details).toMatchObject({ status, intuitTid: TID });
        expect(server.requests).toHaveLength(1);
      },
    );

    it('C3: classifies a redirect as ambiguous and does not follow it', async () => {
      const target = await serve(json(200, TOKEN_BODY));
      const { server, client } = await serve((_req, res) => {
        res.writeHead(307, { Location: `${target.server.url}/elsewhere` });
        res.end();
      });
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('ambiguous');
      expect(server.requests).toHaveLength(1);
      expect(target.server.requests).toHaveLength(0);
    });
  });

  describe('given the request may have reached Intuit without an answer (C3, C4, G2)', () => {
    it('C4: gives up after timeoutMs on a server that never answers: ambiguous TIMEOUT, one request', async () => {
      const { server, client } = await serve(() => undefined);
      const started = Date.now();
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 200));
      expect(Date.now() - started).toBeLessThan(2000);
      expect(error.kind).toBe('ambiguous');
      expect(error.details.transportCode).toBe('TIMEOUT');
      expect(server.requests).toHaveLength(1);
    });

    it('C3: classifies a connection reset after the request was sent as ambiguous, one request', async () => {
      const { server, client } = await serve((_request, _response, raw) => raw.socket.destroy());
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('ambiguous');
      expect(error.details.transportCode).toBe('ECONNRESET');
      expect(server.requests).toHaveLength(1);
    });

    it('C3: classifies a response cut off mid-body as ambiguous, one request', async () => {
      const { server, client } = await serve((_request, response) => {
        response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '500' });
        response.write('{"token_type":"bearer","access_');
        setTimeout(() => response.socket?.destroy(), 20);
      });
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('ambiguous');
      expect(server.requests).toHaveLength(1);
    });
  });

  describe('given the request provably never left (connection refused)', () => {
    it('classifies it as unreachable after at most two attempts', async () => {
      const port = await closedPort();
      const client = new IntuitTokenClient({
        tokenEndpoint: `http://127.0.0.1:${port}/oauth2/v1/tokens/bearer`,
        redirectUri: REDIRECT_URI,
      });
      let attempts = 0;
      client['http'].interceptors.request.use((config) => {
        attempts += 1;
        return config;
      });
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('unreachable');
      expect(error.details.transportCode).toBe('ECONNREFUSED');
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(2);
    });

    it('classifies a refused connection to "localhost" as unreachable too', async () => {
      const port = await closedPort();
      const client = new IntuitTokenClient({
        tokenEndpoint: `http://localhost:${port}/oauth2/v1/tokens/bearer`,
        redirectUri: REDIRECT_URI,
      });
      const error = await failureOf(client.exchangeCode(CODE, CREDENTIALS, 2000));
      expect(error.kind).toBe('unreachable');
    });
  });

  describe('given an error is logged or serialised (F2)', () => {
    const secrets = [
      CODE,
      CREDENTIALS.clientSecret,
      basicAuthorization(CREDENTIALS),
      basicAuthorization(CREDENTIALS).slice('Basic '.length),
      'Authorization',
    ];

    async function errors(): Promise<TokenEndpointError[]> {
      const hanging = await serve(() => undefined);
      const refusing = await serve(json(400, { error: 'invalid_grant' }));
      const resetting = await serve((_request, _response, raw) => raw.socket.destroy());
      return Promise.all([
        failureOf(hanging.client.exchangeCode(CODE, CREDENTIALS, 200)),
        failureOf(refusing.client.exchangeCode(CODE, CREDENTIALS, 2000)),
        failureOf(resetting.client.exchangeCode(CODE, CREDENTIALS, 2000)),
      ]);
    }

    it('F2: JSON.stringify of a TokenEndpointError holds neither the Authorization header nor the code', async () => {
      for (const error of await errors()) {
        const serialised = JSON.stringify(error);
        for (const secret of secrets) expect(serialised).not.toContain(secret);
        expect(error.message).not.toContain(CODE);
      }
    });

    it('F2: the raw transport error is not an enumerable property', async () => {
      for (const error of await errors()) {
        expect(Object.keys(error).sort()).toEqual(['details', 'kind', 'name']);
        for (const value of Object.values(error)) {
          const serialised = JSON.stringify(value);
          for (const secret of secrets) expect(serialised).not.toContain(secret);
        }
      }
    });

    it('F2: util.inspect (what console.error and a logger print) holds neither the Authorization header nor the code', async () => {
      for (const error of await errors()) {
        const printed = inspect(error, { depth: 8 });
        for (const secret of secrets.slice(0, 4)) expect(printed).not.toContain(secret);
      }
    });
  });
});
