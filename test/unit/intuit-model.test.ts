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
const DAY_MS = 24 * 60 * 60 * 1000;
const REFRESH_LIFETIME_S = 8_726_400;
const HARD_LIFETIME_S = 5 * 365 * 24 * 60 * 60;

interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** A model on a clock the test moves by hand. */
function modelAt(start = Date.UTC(2025, 0, 15, 12, 0, 0)): {
  model: OAuthModel;
  advance: (ms: number) => void;
} {
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

function refresh(model: OAuthModel, refreshToken: string, withHardCap = false): JsonAnswer {
  return model.tokenRequest({
    authorization: BASIC,
    withHardCap,
    form: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
}

/** A connection as the connector holds it after the callback: one exchanged code. */
function connect(model: OAuthModel, realmId?: string): Tokens {
  const code = model.issueCode({
    clientId: CLIENT.clientId,
    redirectUri: REDIRECT_URI,
    ...(realmId === undefined ? {} : { realmId }),
  });
  return tokensOf(exchange(model, code));
}

const INVALID_REFRESH = {
  status: 400,
  body: { error: 'invalid_grant', error_description: 'Incorrect or invalid refresh token' },
  outcome: 'invalid_grant:invalid_refresh_token',
};

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
    model.records.addRevocationRequest({ at: 1, status: 200, outcome: 'revoked' });
    expect(model.records.exchangeCount()).toBe(1);
    expect(model.records.revocationRequests()).toBe(1);

    model.reset();

    expect(model.records.tokenRequests()).toEqual([]);
    expect(model.records.revocationRequests()).toBe(0);
  });

  describe('the token lifecycle', () => {
    it('rotates on every refresh: each refresh token works once, and only the latest is active', () => {
      const { model, advance } = modelAt();
      const first = connect(model);
      advance(DAY_MS);
      const second = tokensOf(refresh(model, first.refresh_token));
      advance(DAY_MS);
      const third = tokensOf(refresh(model, second.refresh_token));

      expect(new Set([first.refresh_token, second.refresh_token, third.refresh_token]).size).toBe(3);
      expect(model.refreshTokenState(first.refresh_token)).toBe('rotated');
      expect(model.refreshTokenState(second.refresh_token)).toBe('rotated');
      expect(model.refreshTokenState(third.refresh_token)).toBe('active');
      expect(refresh(model, second.refresh_token)).toEqual(INVALID_REFRESH);
      expect(model.refreshTokenState(third.refresh_token)).toBe('active');
    });

    it('answers invalid_grant to a refresh of a revoked grant, whichever of its tokens was revoked', () => {
      const { model } = modelAt();
      const byRefresh = connect(model);
      const byAccess = connect(model);

      expect(model.revoke(BASIC, byRefresh.refresh_token).status).toBe(200);
      expect(model.revoke(BASIC, byAccess.access_token).status).toBe(200);

      expect(refresh(model, byRefresh.refresh_token)).toEqual(INVALID_REFRESH);
      expect(refresh(model, byAccess.refresh_token)).toEqual(INVALID_REFRESH);
      expect(model.refreshTokenState(byRefresh.refresh_token)).toBe('revoked');
      expect(model.refreshTokenState(byAccess.refresh_token)).toBe('revoked');
    });

    it('reports the hard expiry only when asked, counting down from five years as time passes', () => {
      const { model, advance } = modelAt();
      const code = model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const first = model.tokenRequest({
        authorization: BASIC,
        withHardCap: true,
        form: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
      });
      expect(first.body['x_refresh_token_hard_expires_in']).toBe(HARD_LIFETIME_S);

      advance(10 * DAY_MS);
      const unasked = refresh(model, tokensOf(first).refresh_token);
      expect(unasked.body).not.toHaveProperty('x_refresh_token_hard_expires_in');
      expect(unasked.body['x_refresh_token_expires_in']).toBe(REFRESH_LIFETIME_S);

      advance(DAY_MS);
      const asked = refresh(model, tokensOf(unasked).refresh_token, true);
      expect(asked.body['x_refresh_token_hard_expires_in']).toBe(HARD_LIFETIME_S - 11 * 24 * 60 * 60);
    });

    it('shortens the last refresh tokens of a chain so that none outlives the hard expiry', () => {
      const { model, advance } = modelAt();
      let tokens = connect(model);
      // Refresh every 90 days, inside each token's 101-day window, until the cap is near.
      for (let elapsedDays = 90; elapsedDays < 5 * 365 - 30; elapsedDays += 90) {
        advance(90 * DAY_MS);
        tokens = tokensOf(refresh(model, tokens.refresh_token));
      }
      advance(90 * DAY_MS);
      const nearCap = refresh(model, tokens.refresh_token, true);

      expect(nearCap.body['x_refresh_token_expires_in']).toBe(
        nearCap.body['x_refresh_token_hard_expires_in'],
      );
      expect(nearCap.body['x_refresh_token_expires_in']).toBeLessThan(REFRESH_LIFETIME_S);
    });

    it('answers invalid_grant to a refresh token past its lifetime, and not a moment before', () => {
      const { model, advance } = modelAt();
      const live = connect(model);
      advance(REFRESH_LIFETIME_S * 1000 - 1);
      expect(model.refreshTokenState(live.refresh_token)).toBe('active');
      expect(refresh(model, live.refresh_token).status).toBe(200);

      const { model: later, advance: wait } = modelAt();
      const stale = connect(later);
      wait(REFRESH_LIFETIME_S * 1000);
      expect(later.refreshTokenState(stale.refresh_token)).toBe('expired');
      expect(refresh(later, stale.refresh_token)).toEqual(INVALID_REFRESH);
    });

    it('issues tokens with the lifetimes set at run time, and the configured ones again after reset', () => {
      const { model, advance } = modelAt();
      model.setAccessTokenLifetime(60);
      model.setRefreshTokenLifetime(120);
      const code = model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI });
      const short = exchange(model, code);
      expect(short.body).toMatchObject({ expires_in: 60, x_refresh_token_expires_in: 120 });
      advance(60_000);
      expect(model.isAccessTokenActive(tokensOf(short).access_token)).toBe(false);
      advance(60_000);
      expect(model.refreshTokenState(tokensOf(short).refresh_token)).toBe('expired');

      model.reset();
      expect(
        exchange(model, model.issueCode({ clientId: CLIENT.clientId, redirectUri: REDIRECT_URI })).body,
      ).toMatchObject({
        expires_in: 3600,
        x_refresh_token_expires_in: REFRESH_LIFETIME_S,
      });
      expect(() => model.setAccessTokenLifetime(1.5)).toThrow(/whole seconds/);
      expect(() => model.setRefreshTokenLifetime(-1)).toThrow(/whole seconds/);
    });

    it('answers a second revocation of the same grant with 400 and an empty body', () => {
      const { model } = modelAt();
      const tokens = connect(model);

      expect(model.revoke(BASIC, tokens.refresh_token)).toEqual({
        status: 200,
        body: null,
        outcome: 'revoked',
      });
      expect(model.revoke(BASIC, tokens.refresh_token)).toEqual({
        status: 400,
        body: null,
        outcome: 'already_revoked',
      });
      expect(model.revoke(BASIC, tokens.access_token)).toMatchObject({ status: 400, body: null });
    });

    it('answers 400 with an empty body to the revocation of a grant whose refresh token has expired', () => {
      const { model, advance } = modelAt();
      const tokens = connect(model);
      advance(REFRESH_LIFETIME_S * 1000);

      expect(model.revoke(BASIC, tokens.access_token)).toEqual({
        status: 400,
        body: null,
        outcome: 'expired_grant',
      });
    });

    it("revokes nothing for another client's token, and says the token is unknown", () => {
      const other = { clientId: 'ABotherClient', clientSecret: 'other-secret', redirectUris: [REDIRECT_URI] };
      const model = new OAuthModel({ clients: [CLIENT, other], realmId: REALM_ID });
      const tokens = connect(model);
      const otherBasic = `Basic ${Buffer.from(`${other.clientId}:${other.clientSecret}`).toString('base64')}`;

      expect(model.revoke(otherBasic, tokens.refresh_token)).toEqual({
        status: 200,
        body: null,
        outcome: 'unknown_token',
      });
      expect(model.refreshTokenState(tokens.refresh_token)).toBe('active');
    });

    it("disconnects every grant of one company, as a user disconnecting the app in QuickBooks does, and no other company's", () => {
      const { model } = modelAt();
      const first = connect(model);
      const second = connect(model);
      const elsewhere = connect(model, OTHER_REALM_ID);

      expect(model.disconnectCompany(REALM_ID)).toBe(2);

      expect(model.refreshTokenState(first.refresh_token)).toBe('revoked');
      expect(model.refreshTokenState(second.refresh_token)).toBe('revoked');
      expect(model.isAccessTokenActive(second.access_token)).toBe(false);
      expect(refresh(model, first.refresh_token)).toEqual(INVALID_REFRESH);
      expect(model.refreshTokenState(elsewhere.refresh_token)).toBe('active');
      expect(model.disconnectCompany(REALM_ID)).toBe(0);
    });

    it('calls a token it never issued as a refresh token unknown, access tokens included', () => {
      const { model } = modelAt();
      const tokens = connect(model);

      expect(model.refreshTokenState('AB11-never-issued')).toBe('unknown');
      expect(model.refreshTokenState(tokens.access_token)).toBe('unknown');
    });
  });

  it('knows each app by the name it was registered with, and by none when it has none', () => {
    const named = { ...CLIENT, clientId: 'ABnamedClient', appName: 'Ledgerly' };
    const model = new OAuthModel({ clients: [CLIENT, named] });

    expect(model.appNameOf('ABnamedClient')).toBe('Ledgerly');
    expect(model.appNameOf(CLIENT.clientId)).toBeUndefined();
  });
});
