import { OAuthModel } from '../../local/intuit-emulator/model';
import type { JsonAnswer } from '../../local/intuit-emulator/model';

const CLIENT = {
  clientId: 'ABtestClientId0001',
  clientSecret: 'test-secret-0001',
  redirectUris: ['https://app.example.com/callback'],
};
const REDIRECT_URI = 'https://app.example.com/callback';
const REALM_ID = '4620816365212345678';
const OTHER_REALM_ID = '9341453217788990';
const BASIC = `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`;
const CODE_LIFETIME_MS = 600_000;

interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** A model on a clock the test moves by hand. */
function modelAt(start = Date.UTC(2025, 0, 15, 12, 0, 0)): { model: OAuthModel; advance(ms: number): void } {
  let now = start;
  const model = new OAuthModel({
    clients: [CLIENT],
    realmId: REALM_ID,
    companies: { [OTHER_REALM_ID]: 'Other Company' },
    codeLifetimeMs: CODE_LIFETIME_MS,
    now: () => now,
  });
  return { model, advance: (ms) => (now += ms) };
}

function exchange(model: OAuthModel, code: string): JsonAnswer {
  return model.tokenRequest({
    authorization: BASIC,
    withHardCap: false,
    form: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
  });
}

function refresh(model: OAuthModel, refreshToken: string): JsonAnswer {
  return model.tokenRequest({
    authorization: BASIC,
    withHardCap: false,
    form: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
}

function tokensOf(answer: JsonAnswer): Tokens {
  expect(answer.status).toBe(200);
  const { access_token, refresh_token } = answer.body;
  if (typeof access_token !== 'string' || typeof refresh_token !== 'string') {
    throw new Error('the answer carries no token pair');
  }
  return { access_token, refresh_token };
}

describe('OAuthModel', () => {
  it('exchanges a code once: the second presentation is invalid_grant:replay', () => {
    const { model } = modelAt();
    const code = model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });

    expect(exchange(model, code).outcome).toBe('issued');
    const replay = exchange(model, code);

    expect(replay).toEqual({
      status: 400,
      body: { error: 'invalid_grant' },
      outcome: 'invalid_grant:replay',
    });
  });

  it("revokes the first exchange's tokens when its code is replayed", () => {
    const { model } = modelAt();
    const code = model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
    const first = tokensOf(exchange(model, code));
    expect(model.isAccessTokenActive(first.access_token)).toBe(true);

    exchange(model, code);

    expect(model.isAccessTokenActive(first.access_token)).toBe(false);
    expect(model.isRefreshTokenActive(first.refresh_token)).toBe(false);
    expect(refresh(model, first.refresh_token).outcome).toBe('invalid_grant:invalid_refresh_token');
  });

  it('accepts a code until its lifetime ends and refuses it from then on, burning it either way', () => {
    const early = modelAt();
    const fresh = early.model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
    early.advance(CODE_LIFETIME_MS - 1);
    expect(exchange(early.model, fresh).outcome).toBe('issued');

    const late = modelAt();
    const stale = late.model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
    late.advance(CODE_LIFETIME_MS);
    expect(exchange(late.model, stale).outcome).toBe('invalid_grant:expired_code');
    expect(exchange(late.model, stale).outcome).toBe('invalid_grant:replay');
  });

  it('rotates on refresh: the old refresh token dies, the new pair lives', () => {
    const { model } = modelAt();
    const code = model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
    const first = tokensOf(exchange(model, code));

    const second = tokensOf(refresh(model, first.refresh_token));

    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(model.isRefreshTokenActive(first.refresh_token)).toBe(false);
    expect(model.isRefreshTokenActive(second.refresh_token)).toBe(true);
    expect(model.isAccessTokenActive(second.access_token)).toBe(true);
    expect(refresh(model, first.refresh_token).outcome).toBe('invalid_grant:invalid_refresh_token');
  });

  it("lets CompanyInfo answer only for the grant's own realm, and judges the token first", () => {
    const { model } = modelAt();
    const code = model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
    const { access_token } = tokensOf(exchange(model, code));
    const bearer = `Bearer ${access_token}`;

    const own = model.companyInfo(bearer, REALM_ID, REALM_ID);
    expect(own.status).toBe(200);
    expect(own.body['CompanyInfo']).toMatchObject({ CompanyName: 'Sandbox Company_US_1' });
    expect(model.companyInfo(bearer, OTHER_REALM_ID, OTHER_REALM_ID)).toMatchObject({
      status: 403,
      outcome: 'realm_mismatch',
    });
    expect(model.companyInfo('Bearer not-a-token', OTHER_REALM_ID, OTHER_REALM_ID)).toMatchObject({
      status: 401,
      outcome: 'invalid_token',
    });
  });

  it('accepts a company added later, and only with digits, for codes bound to it', () => {
    const { model } = modelAt();
    expect(() =>
      model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI, realmId: '5550001' }),
    ).toThrow();
    model.addCompany('5550001', 'Added Co');
    const code = model.issueCode({
      clientId: CLIENT.clientId,
      redirectUri: REDIRECT_URI,
      realmId: '5550001',
    });
    const tokens = tokensOf(exchange(model, code));
    expect(model.companyInfo(`Bearer ${tokens.access_token}`, '5550001', '5550001')).toMatchObject({
      status: 200,
    });
    expect(() => model.addCompany('55a', 'Bad')).toThrow(/digits/);
  });

  it('records what it was asked and forgets it all on reset', () => {
    const { model } = modelAt();
    model.records.addTokenRequest({ grantType: 'authorization_code', at: 1, status: 200, outcome: 'issued' });
    model.records.countRevocationRequest();
    expect(model.records.exchangeCount()).toBe(1);

    model.reset();

    expect(model.records.tokenRequests()).toEqual([]);
    expect(model.records.revocationRequests()).toBe(0);
  });

  it('knows each app by the name it was registered with, and by none when it has none', () => {
    const named = { ...CLIENT, clientId: 'ABnamedClient', appName: 'Ledgerly' };
    const model = new OAuthModel({ clients: [CLIENT, named] });

    expect(model.appNameOf('ABnamedClient')).toBe('Ledgerly');
    expect(model.appNameOf(CLIENT.clientId)).toBeUndefined();
  });
});
