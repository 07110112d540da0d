/**
 * A user's part of the OAuth dance in a real browser: start at /connect, answer the emulator's
 * consent page with its buttons, and watch where the browser lands. Every wait is Playwright's
 * auto-waiting on something a user would see (a heading, a button) or on a request leaving.
 */
import { createHash } from 'node:crypto';
import type { BrowserContext, Locator, Page, Route } from 'playwright-core';
import type { TestStack } from '../../support/test-stack';

/** The headings a user reads on each page (lambdas/core/pages.ts and the emulator's consent page). */
export const HEADING = {
  connected: 'Your QuickBooks company is connected',
  cancelled: 'You cancelled the connection',
  expired: 'This link has expired or was already used',
  failed: 'We could not finish connecting to QuickBooks',
  finishing: 'Finishing your connection…',
  notFound: 'Page not found',
  invalidRequest: 'This link is not valid',
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
 * Holds Intuit's answer to the consent decision (the 302 back to our callback) until `release()`:
 * the way to learn a callback URL before the rightful browser has used it, and to make a second tab
 * arrive at the same moment. Playwright cannot intercept a request that is the target of a
 * redirect, so the gate sits one step earlier: it lets the decision POST reach the emulator, keeps
 * the redirect, and hands it to the browser on release, which then follows it as usual (with its
 * cookies, as a cross-site top-level navigation).
 */
export class IntuitRedirectGate {
  private readonly callbackUrls: string[] = [];
  private readonly delivered: Array<Promise<void>> = [];
  private readonly listeners = new Set<() => void>();
  private readonly matches: (url: URL) => boolean;
  private open!: () => void;
  private readonly opened = new Promise<void>((resolve) => (this.open = resolve));

  private constructor(
    private readonly context: BrowserContext,
    stack: TestStack,
  ) {
    const decision = new URL('/connect/oauth2/decision', stack.emulator.url).href;
    this.matches = (url) => url.href === decision;
  }

  static async install(context: BrowserContext, stack: TestStack): Promise<IntuitRedirectGate> {
    const gate = new IntuitRedirectGate(context, stack);
    await context.route(gate.matches, (route) => {
      const delivery = gate.hold(route);
      gate.delivered.push(delivery);
      return delivery;
    });
    return gate;
  }

  /** Resolves with the callback URL of the first held redirect. */
  callbackUrl(timeoutMs = OUTCOME_TIMEOUT_MS): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const first = this.callbackUrls[0];
        if (first === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(first);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error('the browser did not submit the consent decision'));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Lets the browser follow every held redirect, then stops holding. */
  async release(): Promise<void> {
    this.open();
    await Promise.all(this.delivered);
    await this.context.unroute(this.matches);
  }

  /** The route handler: runs until the redirect it holds has been handed to the browser. */
  private async hold(route: Route): Promise<void> {
    const response = await route.fetch({ maxRedirects: 0 });
    this.callbackUrls.push(response.headers()['location'] ?? '');
    for (const listener of this.listeners) listener();
    await this.opened;
    await route.fulfill({ response });
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
