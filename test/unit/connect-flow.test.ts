import { connectRoute } from '../../lambdas/handlers/web/browser-routes';
import { ConfigError } from '../../lambdas/core/errors';
import { FLOW_COOKIE_PREFIX, flowCookieName, matchFlowCookie } from '../../lambdas/core/flow-cookie';
import { sha256Hex, STATE_PATTERN } from '../../lambdas/core/flow-identifiers';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import type { NewFlow } from '../../lambdas/core/flow-ledger';
import type { BaseRuntime, FlowDependencies } from '../../lambdas/core/runtime';
import { CapturingTelemetry } from './fakes/capturing-telemetry';
import { FakeClock } from './fakes/fake-clock';
import { InMemoryFlowLedger } from './fakes/in-memory-flow-ledger';
import { CREDENTIALS, FakeCredentials, REDIRECT_URI, serviceConfig } from './fakes/service-config';

class ConnectHarness {
  readonly clock = new FakeClock();
  readonly ledger = new InMemoryFlowLedger();
  readonly telemetry = new CapturingTelemetry();
  credentials = new FakeCredentials();
  config = serviceConfig();
  runtime: () => BaseRuntime = () => ({
    config: this.config,
    credentials: this.credentials,
    ledger: this.ledger,
  });

  get deps(): FlowDependencies<BaseRuntime> {
    return {
      runtime: () => this.runtime(),
      telemetry: this.telemetry,
      clock: this.clock.now,
      sleep: this.clock.sleep,
    };
  }

  connect(request: { method: string } = { method: 'GET' }): Promise<HttpResponse> {
    return connectRoute(request, this.deps);
  }
}

function authorizeUrl(response: HttpResponse): URL {
  const location = response.headers['Location'];
  if (location === undefined) throw new Error(`no Location (status ${response.statusCode})`);
  return new URL(location);
}

function cookieState(response: HttpResponse): { state: string; issuedAt: string; header: string } {
  const [header, ...others] = response.cookies ?? [];
  expect(others).toEqual([]);
  if (header === undefined) throw new Error('no Set-Cookie');
  const match = new RegExp(`^(${FLOW_COOKIE_PREFIX}[0-9a-f]{16})=([^.;]+)\\.(\\d+);`).exec(header);
  if (match?.[2] === undefined || match[3] === undefined) throw new Error(`unexpected cookie ${header}`);
  expect(match[1]).toBe(flowCookieName(match[2]));
  return { state: match[2], issuedAt: match[3], header };
}

describe('handleConnect', () => {
  describe('given a configured deployment', () => {
    it("redirects 302 to Intuit's authorization endpoint", async () => {
      const h = new ConnectHarness();
      const response = await h.connect();
      expect(response.statusCode).toBe(302);
      const url = authorizeUrl(response);
      expect(`${url.origin}${url.pathname}`).toBe('https://appcenter.intuit.com/connect/oauth2');
      expect(response.body).toBe('');
    });

    it('A6: sends exactly client_id, response_type=code, scope, redirect_uri and state', async () => {
      const h = new ConnectHarness();
      h.config = serviceConfig({ scopes: ['com.intuit.quickbooks.accounting', 'openid'] });
      const params = authorizeUrl(await h.connect()).searchParams;
      expect([...params.keys()].sort()).toEqual([
        'client_id',
        'redirect_uri',
        'response_type',
        'scope',
        'state',
      ]);
      expect(params.get('client_id')).toBe(CREDENTIALS.clientId);
      expect(params.get('response_type')).toBe('code');
      expect(params.get('scope')).toBe('com.intuit.quickbooks.accounting openid');
      expect(params.get('redirect_uri')).toBe(REDIRECT_URI);
      expect(params.get('state')).toMatch(STATE_PATTERN);
    });

    it('A3: uses the configured redirect_uri byte for byte, whatever headers the request carries', async () => {
      const h = new ConnectHarness();
      const configured = 'https://connect.example.com/callback?tenant=a%20b';
      h.config = serviceConfig({ redirectUri: configured });
      const hostile = {
        method: 'GET',
        headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' },
        rawQuery: 'redirect_uri=https://evil.example/cb',
      };
      const url = authorizeUrl(await h.connect(hostile));
      expect(url.searchParams.get('redirect_uri')).toBe(configured);
      expect(url.toString()).not.toContain('evil');
    });

    it('A1/A2: sets one flow cookie whose state equals the state in the URL', async () => {
      const h = new ConnectHarness();
      const response = await h.connect();
      const cookie = cookieState(response);
      expect(cookie.state).toBe(authorizeUrl(response).searchParams.get('state'));
      expect(cookie.issuedAt).toBe(String(h.clock.now()));
      expect(matchFlowCookie([cookie.header.split(';')[0] as string], cookie.state)).toEqual({
        issuedAt: h.clock.now(),
      });
    });

    it('A2: makes the cookie live as long as the flow, bound to this origin only', async () => {
      const h = new ConnectHarness();
      h.config = serviceConfig({ flowTtlSeconds: 600 });
      const { header } = cookieState(await h.connect());
      expect(header).toMatch(/; Max-Age=600(;|$)/);
      expect(header).toMatch(/; Secure(;|$)/);
      expect(header).toMatch(/; HttpOnly(;|$)/);
      expect(header).toMatch(/; Path=\/(;|$)/);
      expect(header).toMatch(/; SameSite=Lax(;|$)/);
      expect(header).not.toMatch(/Domain=/i);
    });

    it('A2: stores the flow by the hash of its state, never the raw state, expiring after the flow TTL', async () => {
      const h = new ConnectHarness();
      h.config = serviceConfig({ flowTtlSeconds: 600 });
      const response = await h.connect();
      const state = cookieState(response).state;
      const [[flow]] = h.ledger.callsOf('createFlow') as [[NewFlow]];
      expect(flow).toEqual({
        stateHash: sha256Hex(state),
        createdAt: h.clock.now(),
        expiresAt: h.clock.now() + 600 * 1000,
      });
      expect(JSON.stringify(h.ledger.calls)).not.toContain(state);
    });

    it('A1: starts a new, unrelated state on every call', async () => {
      const h = new ConnectHarness();
      const states = new Set<string>();
      for (let i = 0; i < 20; i++) states.add(cookieState(await h.connect()).state);
      expect(states.size).toBe(20);
      expect(h.ledger.states.size).toBe(20);
    });

    it('logs CONNECT_STARTED with the ConnectStarted metric and only a hash prefix of the state', async () => {
      const h = new ConnectHarness();
      const state = cookieState(await h.connect()).state;
      const event = h.telemetry.single('CONNECT_STARTED');
      expect(event.metrics).toEqual(['ConnectStarted']);
      expect(event.fields).toEqual({
        stateHashPrefix: sha256Hex(state).slice(0, 12),
        qboEnvironment: 'sandbox',
      });
      expect(h.telemetry.dump()).not.toContain(state);
      expect(h.telemetry.dump()).not.toContain(CREDENTIALS.clientSecret);
    });

    it('E2: sends the security headers on the redirect, HSTS included for an https deployment', async () => {
      const h = new ConnectHarness();
      const response = await h.connect();
      expect(response.headers).toMatchObject({
        'Cache-Control': 'no-store',
        'Referrer-Policy': 'no-referrer',
        'X-Content-Type-Options': 'nosniff',
      });
      expect(response.headers['Strict-Transport-Security']).toBeDefined();
    });

    it('omits HSTS for a local http deployment', async () => {
      const h = new ConnectHarness();
      h.config = serviceConfig({ redirectUri: 'http://localhost:3000/callback' });
      expect((await h.connect()).headers).not.toHaveProperty('Strict-Transport-Security');
    });
  });

  describe('given DynamoDB cannot store the flow (G1)', () => {
    it('answers 503 "try again" and sends nobody to Intuit', async () => {
      const h = new ConnectHarness();
      h.ledger.failAlways('createFlow');
      const response = await h.connect();
      expect(response.statusCode).toBe(503);
      expect(response.headers).not.toHaveProperty('Location');
      expect(response).not.toHaveProperty('cookies');
      expect(response.body).toContain('Please try again');
      const event = h.telemetry.single('STORAGE_UNAVAILABLE');
      expect(event.metrics).toEqual(['StorageUnavailable']);
      expect(event.fields).toMatchObject({
        operation: 'createFlow',
        awsError: 'ProvisionedThroughputExceededException',
      });
      expect(response.body).toContain(`<code>${String(event.fields?.['reference'])}</code>`);
    });

    it('lets an unexpected error propagate to the handler wrapper', async () => {
      const h = new ConnectHarness();
      h.ledger.failNext('createFlow', 1, () => new TypeError('bug'));
      await expect(h.connect()).rejects.toThrow(TypeError);
    });
  });

  describe('given broken configuration (G5)', () => {
    it('G5: answers 503 "not configured" with a ConfigError metric when the runtime cannot be built', async () => {
      const h = new ConnectHarness();
      h.runtime = () => {
        throw new ConfigError(['QBO_REDIRECT_URI is not set']);
      };
      const response = await h.connect();
      expect(response.statusCode).toBe(503);
      expect(response.body).toContain('not available yet');
      const event = h.telemetry.single('CONFIG_INVALID');
      expect(event.metrics).toEqual(['ConfigError']);
      expect(event.fields).toMatchObject({ problems: 'QBO_REDIRECT_URI is not set' });
    });

    it('G5: answers 503 "not configured" and stores no flow when the credentials are a placeholder', async () => {
      const h = new ConnectHarness();
      h.credentials = new FakeCredentials(() => {
        throw new ConfigError(['secret quickbooks/dev still holds the placeholder clientId']);
      });
      const response = await h.connect();
      expect(response.statusCode).toBe(503);
      expect(response.headers).not.toHaveProperty('Location');
      expect(h.ledger.callsOf('createFlow')).toHaveLength(0);
      expect(h.telemetry.single('CONFIG_INVALID').metrics).toEqual(['ConfigError']);
    });
  });

  describe('given another method than GET (B5)', () => {
    it('answers 405 and starts no flow', async () => {
      const h = new ConnectHarness();
      const response = await h.connect({ method: 'POST' });
      expect(response.statusCode).toBe(405);
      expect(h.ledger.calls).toEqual([]);
    });
  });
});
