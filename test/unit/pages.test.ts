import { createHash } from 'node:crypto';
import { pageResponse, redirectResponse, securityHeaders } from '../../lambdas/handlers/web/http-responses';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import { handleOutcome } from '../../lambdas/handlers/web/outcome-page';
import type { PageContext, PageKind } from '../../lambdas/handlers/web/pages';
import { OUTCOME_KINDS, renderPage } from '../../lambdas/handlers/web/pages';

/** Every PageKind; the `satisfies` makes the compiler fail when a kind is added and not listed here. */
const ALL_KINDS = Object.keys({
  connected: true,
  cancelled: true,
  expired: true,
  failed: true,
  finishing: true,
  unverified: true,
  'other-account': true,
  'link-refused': true,
  'not-configured': true,
  'try-again': true,
  'invalid-request': true,
  'not-found': true,
  'method-not-allowed': true,
  disconnected: true,
  'reconnect-from-app': true,
} satisfies Record<PageKind, true>) as PageKind[];

const CTX: PageContext = { appName: 'Ledgerly', connectPath: '/connect', reference: 'K7PQ2M9X' };
const HOSTILE_NAME = '<script>alert("x")</script> & Co\'s';

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

function inlineStyle(html: string): string {
  const match = /<style>([\s\S]*?)<\/style>/.exec(html);
  if (match?.[1] === undefined) throw new Error('no inline <style>');
  return match[1];
}

function cspDirectives(response: HttpResponse): Map<string, string> {
  const csp = response.headers['Content-Security-Policy'];
  if (csp === undefined) throw new Error('no CSP');
  return new Map(
    csp.split(';').map((directive) => {
      const [name = '', ...values] = directive.trim().split(/\s+/);
      return [name, values.join(' ')] as const;
    }),
  );
}

describe('renderPage', () => {
  describe.each(ALL_KINDS)('given the %s page', (kind) => {
    const html = renderPage(kind, CTX);

    it('is an HTML5 document in English with a title, a main landmark and exactly one h1', () => {
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).toContain('<html lang="en">');
      expect(html).toMatch(/<title>[^<]+<\/title>/);
      expect(count(html, '<main')).toBe(1);
      expect(count(html, '</main>')).toBe(1);
      expect(count(html, '<h1')).toBe(1);
      expect(html).toContain('<meta charset="utf-8">');
    });

    it('E2: loads no script and no third-party resource', () => {
      expect(html).not.toMatch(/<script|<link|<img|<iframe|src=/i);
      expect(html).not.toMatch(/https?:\/\//);
    });

    it('escapes an app name that contains markup', () => {
      const hostile = renderPage(kind, { ...CTX, appName: HOSTILE_NAME });
      expect(hostile).not.toContain('<script>');
      expect(hostile).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co&#39;s');
      expect(hostile).toMatch(/<title>[^<]*&lt;script&gt;[^<]*<\/title>/);
    });
  });

  it('E3: shows the reference on the failed page', () => {
    expect(renderPage('failed', CTX)).toContain('Reference: <code>K7PQ2M9X</code>');
  });

  it('shows no reference on the success page', () => {
    expect(renderPage('connected', CTX)).not.toContain('K7PQ2M9X');
  });

  it.each(['cancelled', 'expired', 'failed'] as const)(
    'offers a "Connect to QuickBooks" button on the %s page',
    (kind) => {
      expect(renderPage(kind, CTX)).toContain('<a class="button" href="/connect">Connect to QuickBooks</a>');
    },
  );

  it('links the success page to the configured return URL, escaped', () => {
    const html = renderPage('connected', { ...CTX, appReturnUrl: 'https://app.example.com/?a=1&b="2"' });
    expect(html).toContain('href="https://app.example.com/?a=1&amp;b=&quot;2&quot;"');
    expect(html).toContain('Return to Ledgerly');
  });

  it('A5: the link-refused page says to ask the app for a new link, and links back to the app', () => {
    const html = renderPage('link-refused', { ...CTX, appReturnUrl: 'https://app.example/home' });
    expect(html).toContain('start connecting again there to get a new link');
    expect(html).toContain('href="https://app.example/home"');
    expect(html).not.toContain('K7PQ2M9X');
  });

  it('makes the finishing page refresh itself', () => {
    expect(renderPage('finishing', CTX)).toMatch(/<meta http-equiv="refresh" content="\d+">/);
    expect(renderPage('failed', CTX)).not.toContain('http-equiv="refresh"');
  });
});

describe('http responses', () => {
  const responses: [string, HttpResponse][] = [
    ['a page', pageResponse(200, 'connected', CTX, true)],
    ['an error page', pageResponse(503, 'try-again', CTX, true)],
    ['a 303 redirect', redirectResponse(303, '/outcome/connected', true)],
    ['a 302 redirect with a cookie', redirectResponse(302, 'https://appcenter.intuit.com/', true, ['a=b'])],
  ];

  describe.each(responses)('given %s', (_label, response) => {
    it('E2: is never cached and sends no referrer', () => {
      expect(response.headers['Cache-Control']).toBe('no-store');
      expect(response.headers['Referrer-Policy']).toBe('no-referrer');
      expect(response.headers['X-Content-Type-Options']).toBe('nosniff');
    });

    it("E2: has a CSP with default-src 'none', frame-ancestors 'none', base-uri 'none', form-action 'self'", () => {
      const csp = cspDirectives(response);
      expect(csp.get('default-src')).toBe("'none'");
      expect(csp.get('frame-ancestors')).toBe("'none'");
      expect(csp.get('base-uri')).toBe("'none'");
      expect(csp.get('form-action')).toBe("'self'");
      expect(csp.get('img-src')).toBe("'self'");
      expect(csp.has('script-src')).toBe(false);
    });

    it('E2: sends HSTS over https', () => {
      expect(response.headers['Strict-Transport-Security']).toMatch(/^max-age=\d{8,}/);
    });

    it('B5: sends no CORS headers', () => {
      expect(
        Object.keys(response.headers).filter((h) => h.toLowerCase().startsWith('access-control-')),
      ).toEqual([]);
    });
  });

  it.each(ALL_KINDS)("E2: the CSP's style-src hash matches the inline <style> of the %s page", (kind) => {
    const response = pageResponse(200, kind, CTX, true);
    const digest = createHash('sha256').update(inlineStyle(response.body), 'utf8').digest('base64');
    expect(cspDirectives(response).get('style-src')).toBe(`'sha256-${digest}'`);
  });

  it('E2: sends no HSTS over plain http (local development)', () => {
    expect(pageResponse(200, 'connected', CTX, false).headers).not.toHaveProperty(
      'Strict-Transport-Security',
    );
    expect(redirectResponse(303, '/outcome/connected', false).headers).not.toHaveProperty(
      'Strict-Transport-Security',
    );
    expect(securityHeaders(false)['Cache-Control']).toBe('no-store');
  });

  it('serves pages as UTF-8 HTML', () => {
    expect(pageResponse(200, 'connected', CTX, true).headers['Content-Type']).toBe(
      'text/html; charset=utf-8',
    );
  });

  it('puts the location in the redirect and nothing in its body', () => {
    const response = redirectResponse(303, '/outcome/cancelled', true);
    expect(response).toMatchObject({ statusCode: 303, body: '' });
    expect(response.headers['Location']).toBe('/outcome/cancelled');
    expect(response).not.toHaveProperty('cookies');
  });
});

describe('handleOutcome (GET /outcome/{kind})', () => {
  const page = { appName: 'Ledgerly', connectPath: '/connect' };

  it.each(OUTCOME_KINDS)('renders the %s page with 200', (kind) => {
    const response = handleOutcome({ method: 'GET', kind, rawQuery: '' }, page, true);
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(renderPage(kind, page));
    expect(response.headers['Cache-Control']).toBe('no-store');
  });

  it.each(['finishing', 'try-again', 'unknown', '..%2Fconnect', ''])(
    'answers 404 for the kind %j',
    (kind) => {
      const response = handleOutcome({ method: 'GET', kind, rawQuery: '' }, page, true);
      expect(response.statusCode).toBe(404);
      expect(response.body).toContain('Page not found');
    },
  );

  it('answers 404 without a kind', () => {
    expect(handleOutcome({ method: 'GET', kind: undefined, rawQuery: '' }, page, true).statusCode).toBe(404);
  });

  it('B5: answers 405 to a POST', () => {
    expect(handleOutcome({ method: 'POST', kind: 'failed', rawQuery: '' }, page, true).statusCode).toBe(405);
  });

  it('E3: shows a valid reference on the failed page', () => {
    const response = handleOutcome({ method: 'GET', kind: 'failed', rawQuery: 'ref=K7PQ2M9X' }, page, true);
    expect(response.body).toContain('Reference: <code>K7PQ2M9X</code>');
  });

  it.each(['<script>alert(1)</script>', 'K7PQ2M9', 'K7PQ2M9XX', 'k7pq2m9x', 'K7PQ2M0X', '%3Cb%3EK7PQ2M9X'])(
    'ignores the bad reference %j',
    (ref) => {
      const response = handleOutcome({ method: 'GET', kind: 'failed', rawQuery: `ref=${ref}` }, page, true);
      expect(response.statusCode).toBe(200);
      expect(response.body).not.toContain('Reference:');
      expect(response.body).not.toContain('<script>');
    },
  );

  it.each(['failed', 'unverified', 'other-account'])(
    'E3: the %s page without a reference does not mention one',
    (kind) => {
      const response = handleOutcome({ method: 'GET', kind, rawQuery: '' }, page, true);
      expect(response.statusCode).toBe(200);
      // The stylesheet names its .reference class on every page; the words shown must not.
      expect(response.body.replace(/<style>[\s\S]*<\/style>/, '')).not.toMatch(/reference/i);
    },
  );

  it('E3: the failed page with a reference asks to quote it', () => {
    const response = handleOutcome({ method: 'GET', kind: 'failed', rawQuery: 'ref=K7PQ2M9X' }, page, true);
    expect(response.body).toContain('quote the reference below');
  });

  it('B7: the other-account page says the company is connected to another account', () => {
    const response = handleOutcome({ method: 'GET', kind: 'other-account', rawQuery: '' }, page, true);
    expect(response.body).toContain('This QuickBooks company is already connected to another account');
  });

  it('reads the reference only from the first 256 characters of the query', () => {
    const response = handleOutcome(
      { method: 'GET', kind: 'failed', rawQuery: `pad=${'x'.repeat(300)}&ref=K7PQ2M9X` },
      page,
      true,
    );
    expect(response.body).not.toContain('Reference:');
  });
});
