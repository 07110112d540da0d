/**
 * Table-driven hostile input on the callback's query (docs/security.md B2, B3, E3, F2): every case gets
 * a 4xx page, never a 5xx, never an Intuit call, nothing unescaped in the body and nothing raw in
 * the logs.
 */
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { consentedCallback, codeOf, get } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

let output: CapturedOutput;
let stack: TestStack;

beforeAll(async () => {
  output = captureOutput();
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.close();
  output?.restore();
});

const SCRIPT = '<script>alert("pwned-xss")</script>';
const ATTRIBUTE = '"><img src=x onerror=alert("pwned-attr")>';
const MARKERS = ['pwned-xss', 'pwned-attr', 'pwned-extra'];

type Spoil = (params: URLSearchParams) => string;

/** Each case turns a genuine callback query into a hostile one; `raw` builds the string by hand. */
const CASES: Array<[string, Spoil]> = [
  ['missing code', (p) => (p.delete('code'), p.toString())],
  ['missing state', (p) => (p.delete('state'), p.toString())],
  ['missing realmId', (p) => (p.delete('realmId'), p.toString())],
  ['empty code', (p) => (p.set('code', ''), p.toString())],
  ['empty state', (p) => (p.set('state', ''), p.toString())],
  ['empty realmId', (p) => (p.set('realmId', ''), p.toString())],
  ['no parameters at all', () => ''],
  ['doubled code', (p) => `${p.toString()}&code=${p.get('code')}`],
  ['doubled state', (p) => `${p.toString()}&state=${p.get('state')}`],
  ['doubled realmId', (p) => `${p.toString()}&realmId=123`],
  ['doubled error', (p) => `state=${p.get('state')}&error=access_denied&error=access_denied`],
  ['code and error together', (p) => `${p.toString()}&error=access_denied`],
  ['a 1 MB query', (p) => `${p.toString()}&padding=${'A'.repeat(1024 * 1024)}`],
  ['a 1 MB code', (p) => (p.set('code', 'A'.repeat(1024 * 1024)), p.toString())],
  ['a NUL byte in the code', (p) => p.toString().replace(/code=([^&]+)/, 'code=$1%00')],
  ['a newline in the state', (p) => p.toString().replace(/state=([^&]+)/, 'state=$1%0A')],
  [
    'an escape character in the realmId',
    (p) => p.toString().replace(/realmId=([^&]+)/, 'realmId=$1%1B%5B31m'),
  ],
  ['a non-UTF-8 percent-encoding in the code', (p) => p.toString().replace(/code=([^&]+)/, 'code=$1%FF%FE')],
  ['a non-UTF-8 percent-encoding in the state', (p) => p.toString().replace(/state=[^&]+/, 'state=%C3%28')],
  [
    'an overlong UTF-8 encoding in the realmId',
    (p) => p.toString().replace(/realmId=[^&]+/, 'realmId=%C0%AF'),
  ],
  ['script in the code', (p) => (p.set('code', SCRIPT), p.toString())],
  ['script in the state', (p) => (p.set('state', SCRIPT), p.toString())],
  ['script in the realmId', (p) => (p.set('realmId', SCRIPT), p.toString())],
  ['markup in the code', (p) => (p.set('code', ATTRIBUTE), p.toString())],
  ['markup in the realmId', (p) => (p.set('realmId', ATTRIBUTE), p.toString())],
  ['script in the error', (p) => `state=${p.get('state')}&error=${encodeURIComponent(SCRIPT)}`],
  ['markup in the error', (p) => `state=${p.get('state')}&error=${encodeURIComponent(ATTRIBUTE)}`],
  ['a realmId with a sign', (p) => (p.set('realmId', '-123'), p.toString())],
  ['a realmId in exponent form', (p) => (p.set('realmId', '1e15'), p.toString())],
  ['a realmId in Arabic-Indic digits', (p) => (p.set('realmId', '١٢٣٤٥٦٧٨٩٠'), p.toString())],
  ['a realmId with a space', (p) => (p.set('realmId', ' 1234567890'), p.toString())],
  ['a 40-digit realmId', (p) => (p.set('realmId', '1'.repeat(40)), p.toString())],
  ['a state one character short', (p) => (p.set('state', (p.get('state') ?? '').slice(1)), p.toString())],
  ['a state with padding', (p) => (p.set('state', `${p.get('state') ?? ''}=`), p.toString())],
];

describe.each(CASES)('given a callback with %s', (_name, spoil) => {
  let response: Awaited<ReturnType<typeof get>>;
  let code: string;
  let outputBefore: number;

  beforeAll(async () => {
    const { url, flow } = await consentedCallback(stack.url, stack.emulator);
    code = codeOf(url);
    outputBefore = output.text().length;
    const hostile = spoil(new URL(url).searchParams);
    response = await get(`${stack.url}/callback?${hostile}`, flow.cookie);
  });

  it('answers with a 4xx page, never a 5xx', () => {
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toContain('href="/connect"');
  });

  it('B3: never calls Intuit', () => {
    expect(stack.emulator.exchangeCount(sha256Hex(code))).toBe(0);
  });

  it('E3: echoes nothing it was given into the page', () => {
    for (const marker of MARKERS) expect(response.body).not.toContain(marker);
    expect(response.body).not.toContain(code);
    expect(response.body).not.toMatch(/<script|onerror=/i);
  });

  it('F2: writes nothing raw to the logs', () => {
    const written = output.text().slice(outputBefore);
    for (const marker of MARKERS) expect(written).not.toContain(marker);
    expect(written).not.toContain(code);
    // eslint-disable-next-line no-control-regex
    expect(written.replace(/\n/g, '')).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
  });
});

describe('given an unknown extra parameter carrying markup', () => {
  it('B2: ignores it and connects normally, without echoing it', async () => {
    const { url, flow } = await consentedCallback(stack.url, stack.emulator);
    const response = await get(`${url}&extra=${encodeURIComponent('<b>pwned-extra</b>')}`, flow.cookie);
    expect(response.location).toBe('/outcome/connected');
    expect(output.text()).not.toContain('pwned-extra');
  });
});
