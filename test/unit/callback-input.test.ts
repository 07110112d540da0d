import fc from 'fast-check';
import { loggableOauthError, parseCallbackQuery } from '../../lambdas/core/callback-input';
import { newState } from '../../lambdas/core/flow-identifiers';

const STATE = newState();
const CODE = 'AB11732095412Bv0sNIfRSC2Xx8IBBvSaFcXrbo5Vs2MeN6Tdh';
const REALM = '9341452211783456';

function query(params: [string, string][]): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}
const valid: [string, string][] = [
  ['code', CODE],
  ['state', STATE],
  ['realmId', REALM],
];

describe('parseCallbackQuery', () => {
  describe('given the query Intuit sends after consent', () => {
    it('returns the code, state and realmId', () => {
      expect(parseCallbackQuery(query(valid))).toEqual({
        kind: 'code',
        code: CODE,
        state: STATE,
        realmId: REALM,
      });
    });

    it('accepts the parameters in any order', () => {
      expect(parseCallbackQuery(`realmId=${REALM}&state=${STATE}&code=${CODE}`)).toMatchObject({
        kind: 'code',
      });
    });

    it('reports a missing state as undefined so the flow can refuse it (B1)', () => {
      expect(parseCallbackQuery(`code=${CODE}&realmId=${REALM}`)).toEqual({
        kind: 'code',
        code: CODE,
        state: undefined,
        realmId: REALM,
      });
    });
  });

  describe('given a parameter given twice (B2)', () => {
    it.each(['code', 'state', 'realmId', 'error'])('B2: refuses a doubled %s parameter', (name) => {
      const doubled =
        name === 'error'
          ? query([
              ['error', 'access_denied'],
              ['state', STATE],
              ['error', 'access_denied'],
            ])
          : query([...valid, valid.find(([k]) => k === name) as [string, string]]);
      expect(parseCallbackQuery(doubled)).toEqual({ kind: 'invalid', reason: 'duplicate_parameter' });
    });

    it('B2: refuses a doubled code even when the second one is empty', () => {
      expect(parseCallbackQuery(`${query(valid)}&code=`)).toEqual({
        kind: 'invalid',
        reason: 'duplicate_parameter',
      });
    });

    it('B2: refuses a doubled code hidden behind a percent-encoded name', () => {
      expect(parseCallbackQuery(`${query(valid)}&co%64e=other`)).toEqual({
        kind: 'invalid',
        reason: 'duplicate_parameter',
      });
    });

    it('B2: ignores unknown extra parameters, even repeated ones', () => {
      const withExtras = `${query(valid)}&utm_source=x&utm_source=y&foo=%ff`;
      expect(parseCallbackQuery(withExtras)).toEqual({
        kind: 'code',
        code: CODE,
        state: STATE,
        realmId: REALM,
      });
    });
  });

  describe('given values outside the accepted shape (B3)', () => {
    it('B3: refuses a query longer than 4 KiB before parsing it', () => {
      const long = `${query(valid)}&pad=${'a'.repeat(4096)}`;
      expect(parseCallbackQuery(long)).toEqual({ kind: 'invalid', reason: 'query_too_long' });
    });

    it('B3: accepts a query of exactly 4096 characters', () => {
      const base = `${query(valid)}&pad=`;
      expect(parseCallbackQuery(base + 'a'.repeat(4096 - base.length))).toMatchObject({ kind: 'code' });
    });

    it.each([
      ['a NUL', '%00'],
      ['a newline', '%0A'],
      ['a carriage return', '%0D'],
      ['a DEL', '%7F'],
      ['a C1 control', '%C2%85'],
    ])('B3: refuses a code containing %s', (_label, encoded) => {
      expect(parseCallbackQuery(`code=AB${encoded}CD&state=${STATE}&realmId=${REALM}`)).toEqual({
        kind: 'invalid',
        reason: 'malformed_code',
      });
    });

    it.each(['%ff', '%C3%28', '%ED%A0%80', '%e9t%e9'])(
      'B3: refuses a code with the non-UTF-8 percent-encoding %s',
      (encoded) => {
        expect(parseCallbackQuery(`code=AB${encoded}&state=${STATE}&realmId=${REALM}`)).toEqual({
          kind: 'invalid',
          reason: 'malformed_code',
        });
      },
    );

    it('B3: refuses a non-UTF-8 state', () => {
      expect(parseCallbackQuery(`code=${CODE}&state=${STATE.slice(0, 42)}%ff&realmId=${REALM}`)).toEqual({
        kind: 'invalid',
        reason: 'malformed_state',
      });
    });

    it.each(['+', '%20'])('B3: refuses a space in the code (written as %s)', (space) => {
      expect(parseCallbackQuery(`code=AB${space}CD&state=${STATE}&realmId=${REALM}`)).toEqual({
        kind: 'invalid',
        reason: 'malformed_code',
      });
    });

    it.each(['<', '>', '"', "'", '`', '(', ')', ';', '\\', '%', '&amp;'])(
      'B3: refuses markup or quoting characters (%s) in the code',
      (character) => {
        expect(parseCallbackQuery(query([['code', `AB${character}CD`], ...valid.slice(1)]))).toEqual({
          kind: 'invalid',
          reason: 'malformed_code',
        });
      },
    );

    it('B3: accepts a code made of a token alphabet (base64, base64url, JWT)', () => {
      const code = 'eyJhbGciOi.J9-_~+/=AB12';
      expect(parseCallbackQuery(query([['code', code], ...valid.slice(1)]))).toMatchObject({
        kind: 'code',
        code,
      });
    });

    it('B3: refuses a code longer than 512 characters', () => {
      expect(parseCallbackQuery(query([['code', 'A'.repeat(513)], ...valid.slice(1)]))).toEqual({
        kind: 'invalid',
        reason: 'malformed_code',
      });
    });

    it.each(['12a4', '-1234', '12 34', '１２３', '1'.repeat(33), '0x1F'])(
      'B3: refuses the realmId %j (digits only)',
      (realmId) => {
        expect(
          parseCallbackQuery(
            query([
              ['code', CODE],
              ['state', STATE],
              ['realmId', realmId],
            ]),
          ),
        ).toEqual({
          kind: 'invalid',
          reason: 'malformed_realm_id',
        });
      },
    );

    it.each([
      ['42 characters', STATE.slice(0, 42)],
      ['44 characters', `${STATE}A`],
      ['standard base64 "+"', `${STATE.slice(0, 42)}+`],
      ['standard base64 "/"', `${STATE.slice(0, 42)}/`],
      ['base64 padding', `${STATE.slice(0, 42)}=`],
      ['empty', ''],
    ])('B3: refuses a state that is not 43 base64url characters (%s)', (_label, state) => {
      expect(
        parseCallbackQuery(
          query([
            ['code', CODE],
            ['state', state],
            ['realmId', REALM],
          ]),
        ),
      ).toEqual({
        kind: 'invalid',
        reason: 'malformed_state',
      });
    });

    it('B3: accepts every 43-character base64url state', () => {
      fc.assert(
        fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), (state) => {
          const parsed = parseCallbackQuery(
            query([
              ['code', CODE],
              ['state', state],
              ['realmId', REALM],
            ]),
          );
          expect(parsed).toEqual({ kind: 'code', code: CODE, state, realmId: REALM });
        }),
      );
    });

    it('B3: never accepts a code outside printable ASCII', () => {
      fc.assert(
        fc.property(
          fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }).filter((s) => /[^\x21-\x7e]/.test(s)),
          (code) => {
            const parsed = parseCallbackQuery(
              query([
                ['code', code],
                ['state', STATE],
                ['realmId', REALM],
              ]),
            );
            expect(parsed.kind).toBe('invalid');
          },
        ),
      );
    });

    it('refuses a missing code and a missing realmId', () => {
      expect(parseCallbackQuery(`state=${STATE}&realmId=${REALM}`)).toEqual({
        kind: 'invalid',
        reason: 'missing_code',
      });
      expect(parseCallbackQuery(`code=&state=${STATE}&realmId=${REALM}`)).toEqual({
        kind: 'invalid',
        reason: 'missing_code',
      });
      expect(parseCallbackQuery(`code=${CODE}&state=${STATE}`)).toEqual({
        kind: 'invalid',
        reason: 'missing_realm_id',
      });
    });
  });

  describe('given both a code and an error', () => {
    it('refuses the callback', () => {
      expect(parseCallbackQuery(`${query(valid)}&error=access_denied`)).toEqual({
        kind: 'invalid',
        reason: 'code_and_error',
      });
    });
  });

  describe('given an error callback (the user declined at Intuit)', () => {
    it('returns the error and state', () => {
      expect(parseCallbackQuery(`error=access_denied&state=${STATE}`)).toEqual({
        kind: 'error',
        error: 'access_denied',
        state: STATE,
      });
    });

    it('does not need a realmId and ignores error_description', () => {
      expect(
        parseCallbackQuery(
          `error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=${STATE}`,
        ),
      ).toEqual({ kind: 'error', error: 'access_denied', state: STATE });
    });

    it.each([
      ['a control character', 'access%0Adenied'],
      ['non-UTF-8 bytes', 'access%ffdenied'],
      ['an empty value', ''],
      ['more than 64 characters', 'x'.repeat(65)],
      ['markup', 'access_denied%3Cscript%3E'],
      ['a space', 'access+denied'],
    ])('B3: refuses an error value with %s', (_label, error) => {
      expect(parseCallbackQuery(`error=${error}&state=${STATE}`)).toEqual({
        kind: 'invalid',
        reason: 'malformed_error',
      });
    });
  });
});

describe('loggableOauthError', () => {
  it('keeps a plain OAuth error token', () => {
    expect(loggableOauthError('access_denied')).toBe('access_denied');
  });

  it.each(['Access Denied', '<script>', 'x'.repeat(65), ''])(
    'reduces the free text %j to "other"',
    (value) => {
      expect(loggableOauthError(value)).toBe('other');
    },
  );
});
