/**
 * A user's part of the OAuth dance in a real browser: start at /connect, answer the emulator's
 * consent page with its buttons, and watch where the browser lands. Every wait is Playwright's
 * auto-waiting on something a user would see (a heading, a button) or on a request leaving.
 */
import { createHash } from 'node:crypto';
import type { Locator, Page, Route } from 'playwright-core';
import type { TestStack } from '../../support/test-stack';

/** The headings a user reads on each page (lambdas/handlers/web/pages.ts and the emulator's consent page). */
export const HEADING = {
  connected: 'Your QuickBooks company is connected',
  cancelled: 'You cancelled the connection',
  expired: 'This link has expired or was already used',
  failed: 'We could not finish connecting to QuickBooks',
  unverified: 'We could not confirm your QuickBooks company',
  finishing: 'Finishing your connection…',
  notFound: 'Page not found',
  invalidRequest: 'This link is not valid',
  disconnected: 'Local QuickBooks connector is disconnected from QuickBooks',
  reconnectFromApp: 'Reconnect QuickBooks from Local QuickBooks connector',
  otherAccount: 'This QuickBooks company is already connected to another account',
  linkRefused: 'This connection link is not valid any more',
} as const;

/**
 * Generous on purpose: DynamoDB Local (one JVM) on a busy 2-core machine can take seconds, and a
 * tab that passes through the "finishing" page reloads itself every 2 s before it converges.
 */
export const OUTCOME_TIMEOUT_MS = 25_000;

/** Flow cookies are named `__Host-qbo_flow_<16 hex of the state's hash>`, one per flow. */
export const FLOW_COOKIE_NAME_PATTERN = /^__Host-qbo_flow_[0-9a-f]{16}$/;

export function isCallbackUrl(stack: TestStack, url: string | URL): boolean {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return parsed.origin === new URL(stack.url).origin && parsed.pathname === '/callback';
}

export const consentButton = (page: Page): Locator =>
  page.getByRole('button', { name: 'Connect', exact: true });
export const declineButton = (page: Page): Locator =>
  page.getByRole('button', { name: 'Cancel', exact: true });
export const reconnectButton = (page: Page): Locator =>
  page.getByRole('link', { name: 'Connect to QuickBooks', exact: true });

/** What the app's "Connect to QuickBooks" button does: open /connect, which sends the browser to Intuit. */
export async function openConsentPage(page: Page, stack: TestStack): Promise<void> {
  await page.goto(`${stack.url}/connect`);
  await waitForConsentPage(page, stack);
}

export async function waitForConsentPage(page: Page, stack: TestStack): Promise<void> {
  await page.waitForURL((url) => url.href.startsWith(stack.emulator.authorizationEndpoint));
  await consentButton(page).waitFor();
}

/**
 * Runs `act` (a click) and resolves with the callback URL Intuit sent the browser to, once `act`
 * is done too (a plain click waits until the page it leads to starts loading).
 */
export async function callbackUrlOf(page: Page, stack: TestStack, act: () => Promise<void>): Promise<string> {
  const request = page.waitForRequest((r) => isCallbackUrl(stack, r.url()), { timeout: OUTCOME_TIMEOUT_MS });
  const acted = act();
  const url = (await request).url();
  await acted;
  return url;
}

/**
 * Clicks without waiting for the navigation it starts to reach its page, for the scenarios that
 * hold that navigation back on purpose (Playwright's click otherwise waits for it to commit).
 */
export async function clickWithoutWaiting(locator: Locator): Promise<void> {
  await locator.click({ noWaitAfter: true });
}

/** Waits for the page's one <h1> to read `text`, however many self-refreshes it takes to get there. */
export async function waitForHeading(page: Page, text: string, timeout = OUTCOME_TIMEOUT_MS): Promise<void> {
  await page.getByRole('heading', { level: 1, name: text, exact: true }).waitFor({ timeout });
}

/** The text of the page's <main>, as a user reads it. */
export async function mainText(page: Page): Promise<string> {
  return page.locator('main').innerText();
}

export function codeHash(callbackUrl: string): string {
  const code = new URL(callbackUrl).searchParams.get('code') ?? '';
  return createHash('sha256').update(code, 'utf8').digest('hex');
}

/** Counts the emulator's authorization_code requests from now on. */
export function exchangeCounter(stack: TestStack): () => number {
  const before = stack.emulator.exchangeCount();
  return () => stack.emulator.exchangeCount() - before;
}

/**
 * Runs `act` (a click on the consent page) and keeps Intuit's answer to the decision, the 302 back
 * to our callback, from the browser: the way to learn a callback URL before the rightful browser has
 * used it. The decision POST reaches the emulator (which issues the code); the browser gets 204 No
 * Content instead of the redirect and stays on the consent page. The test then opens the callback URL
 * itself in that browser (a top-level navigation with its cookies, as following the redirect would
 * be), when and in as many tabs as the scenario needs.
 *
 * Nothing is left pending in the browser between steps. An earlier version held the intercepted
 * navigation open until the test released it, and in CI that once hung a test past its timeout.
 */
export async function withheldCallbackUrl(
  page: Page,
  stack: TestStack,
  act: () => Promise<void>,
): Promise<string> {
  const decision = new URL('/connect/oauth2/decision', stack.emulator.url).href;
  const matches = (url: URL): boolean => url.href === decision;
  let settle!: { resolve: (url: string) => void; reject: (error: Error) => void };
  const location = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  await page.route(
    matches,
    async (route: Route) => {
      try {
        const response = await route.fetch({ maxRedirects: 0, timeout: OUTCOME_TIMEOUT_MS });
        await route.fulfill({ status: 204 });
        const target = response.headers()['location'];
        if (target !== undefined && isCallbackUrl(stack, target)) settle.resolve(target);
        else
          settle.reject(
            new Error(`the consent decision was answered ${response.status()}, not with a callback`),
          );
      } catch (error) {
        // A route left unsettled stalls the browser's navigation: end it, and say why.
        await route.abort('failed').catch(() => undefined);
        settle.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    { times: 1 },
  );
  try {
    await act();
    return await bounded('the consent decision reaching the emulator', location);
  } finally {
    await bounded('removing the consent-decision route', page.unroute(matches));
  }
}

/**
 * For the few Playwright calls that take no timeout of their own (route set-up, context close): a
 * hang then fails with what was being waited for, well inside jest's timeout, instead of a bare
 * "Exceeded timeout" for the whole test.
 */
export async function bounded<T>(
  what: string,
  promise: Promise<T>,
  timeoutMs = OUTCOME_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lets a page's first callback request through and cancels every later one (the self-refresh of
 * the "finishing" page) the way a stopped navigation is cancelled (net::ERR_ABORTED), which leaves
 * the current document in place: a page that reloads itself can then be inspected at leisure.
 * `resume()` stops cancelling; the caller then reloads, as the page would have.
 */
export async function freezeCallbackReloads(
  page: Page,
  stack: TestStack,
): Promise<{ resume(): Promise<void> }> {
  const matches = (url: URL): boolean => isCallbackUrl(stack, url);
  let seen = 0;
  await page.route(matches, (route) => (seen++ === 0 ? route.continue() : route.abort('aborted')));
  return { resume: () => page.unroute(matches) };
}
