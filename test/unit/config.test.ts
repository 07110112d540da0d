import {
  INTUIT_ENDPOINTS,
  loadServiceConfig,
  PLACEHOLDER_CREDENTIAL,
  validateCredentials,
} from '../../lambdas/core/config';
import { ConfigError } from '../../lambdas/core/errors';

const BASE_ENV = {
  APP_ENV: 'dev',
  QBO_REDIRECT_URI: 'https://connect.example.com/callback',
  FLOW_TABLE_NAME: 'flows',
  CONNECTION_TABLE_NAME: 'connections',
};

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const load = (env: Record<string, string | undefined>) => loadServiceConfig({ ...BASE_ENV, ...env });

describe('loadServiceConfig', () => {
  describe('given only the required variables', () => {
    it('fills every default', () => {
      expect(loadServiceConfig(BASE_ENV)).toEqual({
        appEnv: 'dev',
        appName: 'QuickBooks connector',
        qboEnvironment: 'sandbox',
        redirectUri: 'https://connect.example.com/callback',
        scopes: ['com.intuit.quickbooks.accounting'],
        authorizationEndpoint: INTUIT_ENDPOINTS.authorization,
        tokenEndpoint: INTUIT_ENDPOINTS.token,
        revocationEndpoint: 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke',
        requireSignedConnectLinks: false,
        qboApiBaseUrl: 'https://sandbox-quickbooks.api.intuit.com',
        flowTtlSeconds: 900,
        tokenRequestTimeoutMs: 8000,
        companyCheckTimeoutMs: 3000,
        flowTableName: 'flows',
        connectionTableName: 'connections',
      });
    });

    it('A5/I1: requires signed connect links only when REQUIRE_SIGNED_CONNECT_LINKS is "true"', () => {
      expect(load({ REQUIRE_SIGNED_CONNECT_LINKS: 'true' }).requireSignedConnectLinks).toBe(true);
      expect(load({ REQUIRE_SIGNED_CONNECT_LINKS: 'false' }).requireSignedConnectLinks).toBe(false);
      expect(() => load({ REQUIRE_SIGNED_CONNECT_LINKS: 'yes' })).toThrow(/REQUIRE_SIGNED_CONNECT_LINKS/);
    });

    it('has no appReturnUrl when APP_RETURN_URL is empty', () => {
      expect(load({ APP_RETURN_URL: '' })).not.toHaveProperty('appReturnUrl');
    });
  });

  describe('given every setting', () => {
    it('reads each one', () => {
      const config = load({
        APP_NAME: 'Ledgerly',
        QBO_ENVIRONMENT: 'production',
        QBO_SCOPES: 'com.intuit.quickbooks.accounting  openid',
        FLOW_TTL_SECONDS: '600',
        TOKEN_REQUEST_TIMEOUT_MS: '5000',
        APP_RETURN_URL: 'https://app.example.com/settings',
      });
      expect(config).toMatchObject({
        appName: 'Ledgerly',
        qboEnvironment: 'production',
        scopes: ['com.intuit.quickbooks.accounting', 'openid'],
        flowTtlSeconds: 600,
        tokenRequestTimeoutMs: 5000,
        appReturnUrl: 'https://app.example.com/settings',
      });
    });
  });

  describe('given several problems', () => {
    it('lists every problem at once', () => {
      const problems = problemsOf(() =>
        loadServiceConfig({
          QBO_ENVIRONMENT: 'staging',
          QBO_REDIRECT_URI: 'http://connect.example.com/callback#x',
          QBO_SCOPES: 'accounting bad/scope',
          FLOW_TTL_SECONDS: 'soon',
          TOKEN_REQUEST_TIMEOUT_MS: '99',
          QBO_TOKEN_ENDPOINT: 'http://oauth.example.com/token',
          APP_RETURN_URL: 'javascript:alert(1)',
        }),
      );
      const expected = [
        /QBO_ENVIRONMENT must be "sandbox" or "production", got "staging"/,
        /QBO_REDIRECT_URI must not contain a fragment/,
        /QBO_REDIRECT_URI must use https/,
        /QBO_SCOPES has an invalid scope "bad\/scope"/,
        /FLOW_TTL_SECONDS must be an integer between 60 and 3600, got "soon"/,
        /TOKEN_REQUEST_TIMEOUT_MS must be an integer between 1000 and 8000, got "99"/,
        /QBO_TOKEN_ENDPOINT must be an https URL/,
        /APP_RETURN_URL must be an absolute http\(s\) URL/,
        /APP_ENV is not set/,
        /FLOW_TABLE_NAME is not set/,
        /CONNECTION_TABLE_NAME is not set/,
      ];
      for (const pattern of expected) expect(problems).toContainEqual(expect.stringMatching(pattern));
      expect(problems).toHaveLength(expected.length);
    });

    it('puts every problem in the error message', () => {
      expect(() => loadServiceConfig({})).toThrow(
        'Configuration is not usable: QBO_REDIRECT_URI is not set; APP_ENV is not set; FLOW_TABLE_NAME is not set; ' +
          'CONNECTION_TABLE_NAME is not set',
      );
    });

    it('treats a blank required variable as missing', () => {
      expect(problemsOf(() => load({ APP_ENV: '   ' }))).toEqual(['APP_ENV is not set']);
    });
  });

  describe('given the redirect URI (A3)', () => {
    it('accepts http://localhost for sandbox keys', () => {
      expect(load({ QBO_REDIRECT_URI: 'http://localhost:3000/callback' }).redirectUri).toBe(
        'http://localhost:3000/callback',
      );
    });

    it('refuses http://localhost for production keys', () => {
      expect(
        problemsOf(() =>
          load({ QBO_ENVIRONMENT: 'production', QBO_REDIRECT_URI: 'http://localhost:3000/cb' }),
        ),
      ).toEqual([expect.stringMatching(/only for sandbox/)]);
    });

    it('refuses http to any other host', () => {
      expect(problemsOf(() => load({ QBO_REDIRECT_URI: 'http://connect.example.com/callback' }))).toEqual([
        expect.stringMatching(/must use https \(http is allowed only for localhost\)/),
      ]);
    });

    it.each([
      'https://10.0.0.1/callback',
      'https://203.0.113.7:8443/callback',
      'https://[2001:db8::1]/callback',
    ])('refuses the IP host in %s', (uri) => {
      expect(problemsOf(() => load({ QBO_REDIRECT_URI: uri }))).toContainEqual(
        expect.stringMatching(/Intuit refuses IP addresses/),
      );
    });

    it('refuses http://127.0.0.1 even in sandbox', () => {
      expect(problemsOf(() => load({ QBO_REDIRECT_URI: 'http://127.0.0.1:3000/callback' }))).toContainEqual(
        expect.stringMatching(/IP addresses/),
      );
    });

    it.each(['https://connect.example.com/callback#frag', 'https://connect.example.com/callback#'])(
      'refuses the fragment in %s',
      (uri) => {
        expect(problemsOf(() => load({ QBO_REDIRECT_URI: uri }))).toEqual([
          'QBO_REDIRECT_URI must not contain a fragment',
        ]);
      },
    );

    it.each(['/callback', 'connect.example.com/callback'])('refuses the relative URI %s', (uri) => {
      expect(problemsOf(() => load({ QBO_REDIRECT_URI: uri }))).toEqual([
        expect.stringMatching(/QBO_REDIRECT_URI is not an absolute URL/),
      ]);
    });

    it('refuses a non-http scheme', () => {
      expect(problemsOf(() => load({ QBO_REDIRECT_URI: 'ftp://connect.example.com/callback' }))).toEqual([
        'QBO_REDIRECT_URI must use https, got "ftp:"',
      ]);
    });

    it('keeps a query string byte for byte', () => {
      const uri = 'https://connect.example.com/callback?tenant=a%20b';
      expect(load({ QBO_REDIRECT_URI: uri }).redirectUri).toBe(uri);
    });
  });

  describe('given Intuit endpoint overrides', () => {
    it('accepts a loopback emulator over http in sandbox', () => {
      expect(load({ QBO_TOKEN_ENDPOINT: 'http://127.0.0.1:4010/token' }).tokenEndpoint).toBe(
        'http://127.0.0.1:4010/token',
      );
    });

    it('refuses a loopback emulator over http in production', () => {
      expect(
        problemsOf(() =>
          load({ QBO_ENVIRONMENT: 'production', QBO_TOKEN_ENDPOINT: 'http://127.0.0.1:4010/token' }),
        ),
      ).toEqual([expect.stringMatching(/QBO_TOKEN_ENDPOINT must be an https URL/)]);
    });
  });

  describe('given integer settings', () => {
    it.each([
      ['FLOW_TTL_SECONDS', 'abc'],
      ['FLOW_TTL_SECONDS', '1.5'],
      ['FLOW_TTL_SECONDS', '0'],
      ['FLOW_TTL_SECONDS', '59'],
      ['FLOW_TTL_SECONDS', '-5'],
      ['FLOW_TTL_SECONDS', '3601'],
      ['FLOW_TTL_SECONDS', ' '],
      ['TOKEN_REQUEST_TIMEOUT_MS', '99'],
      ['TOKEN_REQUEST_TIMEOUT_MS', '8001'],
      ['COMPANY_CHECK_TIMEOUT_MS', '499'],
      ['COMPANY_CHECK_TIMEOUT_MS', '5001'],
      ['TOKEN_REQUEST_TIMEOUT_MS', 'NaN'],
      ['TOKEN_REQUEST_TIMEOUT_MS', 'Infinity'],
    ])('refuses %s=%j and quotes it', (name, value) => {
      expect(problemsOf(() => load({ [name]: value }))).toEqual([
        expect.stringMatching(
          new RegExp(`^${name} must be an integer between \\d+ and \\d+, got "${value}"$`),
        ),
      ]);
    });

    it('accepts the bounds', () => {
      expect(load({ FLOW_TTL_SECONDS: '60', TOKEN_REQUEST_TIMEOUT_MS: '8000' })).toMatchObject({
        flowTtlSeconds: 60,
        tokenRequestTimeoutMs: 8000,
      });
      expect(load({ FLOW_TTL_SECONDS: '3600', TOKEN_REQUEST_TIMEOUT_MS: '1000' })).toMatchObject({
        flowTtlSeconds: 3600,
        tokenRequestTimeoutMs: 1000,
      });
    });

    it('C4: a longer company check leaves less time for the token request, so the callback still fits 28 s', () => {
      expect(load({ COMPANY_CHECK_TIMEOUT_MS: '500', TOKEN_REQUEST_TIMEOUT_MS: '10500' })).toMatchObject({
        companyCheckTimeoutMs: 500,
        tokenRequestTimeoutMs: 10500,
      });
      expect(
        problemsOf(() => load({ COMPANY_CHECK_TIMEOUT_MS: '5000', TOKEN_REQUEST_TIMEOUT_MS: '8000' })),
      ).toEqual(['TOKEN_REQUEST_TIMEOUT_MS must be an integer between 1000 and 6000, got "8000"']);
    });
  });

  describe('given the accounting API host of the company check (B6)', () => {
    it("defaults to Intuit's host for the environment", () => {
      expect(load({}).qboApiBaseUrl).toBe('https://sandbox-quickbooks.api.intuit.com');
      expect(
        load({ QBO_ENVIRONMENT: 'production', QBO_REDIRECT_URI: 'https://connect.example.com/callback' })
          .qboApiBaseUrl,
      ).toBe('https://quickbooks.api.intuit.com');
    });

    it("refuses the other environment's host, which the keys cannot open", () => {
      expect(
        problemsOf(() =>
          load({
            QBO_ENVIRONMENT: 'production',
            QBO_API_BASE_URL: 'https://sandbox-quickbooks.api.intuit.com',
          }),
        ),
      ).toEqual([
        "QBO_API_BASE_URL is Intuit's sandbox host but QBO_ENVIRONMENT is production: use https://quickbooks.api.intuit.com",
      ]);
    });

    it('refuses a host with a path, plain http outside a sandbox loopback, and accepts the emulator', () => {
      expect(problemsOf(() => load({ QBO_API_BASE_URL: 'https://quickbooks.example.com/v3' }))).toEqual([
        'QBO_API_BASE_URL must be a host without a path or query, got "https://quickbooks.example.com/v3"',
      ]);
      expect(problemsOf(() => load({ QBO_API_BASE_URL: 'http://quickbooks.example.com' }))).toEqual([
        expect.stringMatching(/^QBO_API_BASE_URL must be an https URL/),
      ]);
      expect(load({ QBO_API_BASE_URL: 'http://127.0.0.1:4010' }).qboApiBaseUrl).toBe('http://127.0.0.1:4010');
    });
  });

  describe('given scopes', () => {
    it('refuses an empty scope list', () => {
      expect(problemsOf(() => load({ QBO_SCOPES: '   ' }))).toEqual([
        'QBO_SCOPES must list at least one scope',
      ]);
    });
  });
});

describe('validateCredentials', () => {
  const SOURCE = 'secret quickbooks/dev';
  const SECRET = 'Zq8-canary-secret-value';
  const valid = { clientId: 'ABclientId123', clientSecret: SECRET, environment: 'sandbox' };

  function messageOf(raw: unknown, expected: 'sandbox' | 'production' = 'sandbox'): string {
    try {
      validateCredentials(raw, expected, SOURCE);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error('expected a ConfigError');
  }

  it('returns valid credentials', () => {
    expect(validateCredentials(valid, 'sandbox', SOURCE)).toEqual(valid);
  });

  it.each([null, undefined, 'a string', 42, [], [valid]])('G5: refuses %j, which is not an object', (raw) => {
    expect(messageOf(raw)).toMatch(
      /secret quickbooks\/dev must be a JSON object with clientId, clientSecret and environment/,
    );
  });

  it.each(['clientId', 'clientSecret'] as const)('G5: refuses the placeholder %s', (field) => {
    const message = messageOf({ ...valid, [field]: PLACEHOLDER_CREDENTIAL });
    expect(message).toContain(`secret quickbooks/dev still holds the placeholder ${field}`);
    expect(message).toContain("put the app's sandbox keys in it");
  });

  it.each([
    ['leading', ` ${SECRET}`],
    ['trailing', `${SECRET}\n`],
  ])('refuses %s whitespace in the secret without quoting it', (_label, clientSecret) => {
    const message = messageOf({ ...valid, clientSecret });
    expect(message).toContain('clientSecret has leading or trailing whitespace');
    expect(message).not.toContain(SECRET);
  });

  it('refuses whitespace inside the client id', () => {
    expect(messageOf({ ...valid, clientId: 'AB client' })).toContain('clientId contains whitespace');
  });

  it.each([
    ['missing', { clientId: 'ABclientId123', environment: 'sandbox' }],
    ['empty', { ...valid, clientSecret: '' }],
    ['not a string', { ...valid, clientSecret: 12345 }],
  ])('refuses a %s clientSecret', (_label, raw) => {
    expect(messageOf(raw)).toContain('secret quickbooks/dev has no clientSecret');
  });

  it('names both environments when the secret is for the other one', () => {
    const message = messageOf({ ...valid, environment: 'production' }, 'sandbox');
    expect(message).toContain(
      'secret quickbooks/dev has environment=production but this deployment expects sandbox',
    );
    expect(message).not.toContain(SECRET);
  });

  it('refuses an unknown environment without echoing it', () => {
    const message = messageOf({ ...valid, environment: SECRET });
    expect(message).toContain('environment must be "sandbox" or "production"');
    expect(message).not.toContain(SECRET);
  });

  it('lists every problem at once', () => {
    expect(() =>
      validateCredentials(
        { clientId: PLACEHOLDER_CREDENTIAL, clientSecret: PLACEHOLDER_CREDENTIAL },
        'production',
        SOURCE,
      ),
    ).toThrow(
      expect.objectContaining({
        problems: [
          expect.stringContaining('placeholder clientId'),
          expect.stringContaining('placeholder clientSecret'),
          expect.stringContaining('environment must be'),
        ],
      }),
    );
  });

  it('never puts the secret in any message, whatever is wrong with it', () => {
    const broken = [
      { clientId: ` ${SECRET}`, clientSecret: ` ${SECRET}`, environment: 'production' },
      { clientId: SECRET, clientSecret: `${SECRET} x`, environment: SECRET },
      { clientId: `${SECRET}\t`, clientSecret: SECRET, environment: 'production' },
    ];
    for (const raw of broken) {
      const message = messageOf(raw);
      expect(message).not.toContain(SECRET);
      expect(message).not.toContain('canary');
    }
  });
});

describe('loadServiceConfig, the Reconnect URL settings', () => {
  const base = {
    APP_ENV: 'test',
    QBO_REDIRECT_URI: 'https://connect.example.com/callback',
    FLOW_TABLE_NAME: 'flows',
    CONNECTION_TABLE_NAME: 'connections',
  };
  it('reads REQUIRE_SIGNED_CONNECT_LINKS and APP_RECONNECT_URL', () => {
    expect(
      loadServiceConfig({
        ...base,
        REQUIRE_SIGNED_CONNECT_LINKS: 'true',
        APP_RECONNECT_URL: 'https://app.example.com/r',
      }),
    ).toMatchObject({ requireSignedConnectLinks: true, appReconnectUrl: 'https://app.example.com/r' });
  });
  it('refuses a REQUIRE_SIGNED_CONNECT_LINKS that is not true or false, and an APP_RECONNECT_URL that is not a URL', () => {
    expect(() => loadServiceConfig({ ...base, REQUIRE_SIGNED_CONNECT_LINKS: 'yes' })).toThrow(
      /REQUIRE_SIGNED_CONNECT_LINKS must be "true" or "false"/,
    );
    expect(() => loadServiceConfig({ ...base, APP_RECONNECT_URL: 'not a url' })).toThrow(/APP_RECONNECT_URL/);
  });
});
