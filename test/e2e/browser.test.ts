/**
 * The connect -> consent -> callback journey in a real browser (headless Debian Chromium, driven by
 * playwright-core) against the local stack: DynamoDB Local, the Intuit emulator, the same handlers
 * as in Lambda. Every scenario checks what the user reads and how many times the emulator's token
 * endpoint saw an authorization code (docs/design.md invariants 1, 2, 5; docs/security.md A2, B1, B4, C1, C2,
 * E1). Screenshots of every page a user can reach land in test-results/screenshots/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';
import {
  bounded,
  callbackUrlOf,
  clickWithoutWaiting,
  codeHash,
  consentButton,
  declineButton,
  exchangeCounter,
  freezeCallbackReloads,
  FLOW_COOKIE_NAME_PATTERN,
  HEADING,
  isCallbackUrl,
  mainText,
  openConsentPage,
  OUTCOME_TIMEOUT_MS,
  reconnectButton,
  waitForConsentPage,
  waitForHeading,
  withheldCallbackUrl,
} from './support/browser-flow';
import { launchChromium } from './support/chromium';
import { axeViolations, inspectStructure, saveScreenshot } from './support/page-checks';

// Each browser step waits up to OUTCOME_TIMEOUT_MS (25 s); a scenario chains several. Above jest's
// default of 60 s, so that a slow step fails with its own message (which wait, on what) rather than
// a bare "Exceeded timeout" for the whole test.
jest.setTimeout(120_000);

const TOKEN_REQUEST_TIMEOUT_MS = 8_000;
const SLOW_INTUIT_MS = 6_000;

let output: CapturedOutput;
let browser: Browser;
let stack: TestStack;
/** A second stack that requires signed connect links, started for the one page only it shows. */
let linksRequired: TestStack | undefined;
let context: BrowserContext;
let page: Page;
/** Every code, state and cookie value a browser carried, for the log canary at the end. */
const secretsSeen = new Set<string>();

beforeAll(async () => {
  output = captureOutput();
  // A token request may take up to 15 s (default 8 s), so that the "slow Intuit" fault that makes the
  // finishing page reachable (8 s) stays well inside it on a busy machine.
  const [launched, started] = await Promise.allSettled([
    launchChromium(),
    startTestStack({ env: { TOKEN_REQUEST_TIMEOUT_MS: String(TOKEN_REQUEST_TIMEOUT_MS) } }),
  ]);
  // Keep whichever started, so afterAll closes it even when the other failed (no Chromium in CI).
  if (launched.status === 'fulfilled') browser = launched.value;
  if (started.status === 'fulfilled') stack = started.value;
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await linksRequired?.close();
  output?.restore();
});

/** A fresh browser profile: no cookies, no history. */
async function newContext(): Promise<BrowserContext> {
  const created = await bounded('a new browser context', browser.newContext());
  created.setDefaultTimeout(OUTCOME_TIMEOUT_MS);
  created.on('request', (request) => {
    const params = new URL(request.url()).searchParams;
    for (const name of ['code', 'state']) {
      const value = params.get(name);
      if (value !== null && value !== '') secretsSeen.add(value);
    }
  });
  return created;
}

async function closeContext(closing: BrowserContext): Promise<void> {
  for (const cookie of await closing.cookies().catch(() => [])) secretsSeen.add(cookie.value);
  await bounded('a browser context to close', closing.close());
}

beforeEach(async () => {
  context = await newContext();
  page = await context.newPage();
});

afterEach(async () => {
  stack?.emulator.clearFault();
  if (context) await closeContext(context);
});

/** The user's address bar after landing on an outcome page. */
function expectCleanOutcomeUrl(url: string, kind: string, callbackUrl: string): void {
  const landed = new URL(url);
  expect(landed.origin).toBe(new URL(stack.url).origin);
  expect(landed.pathname).toBe(`/outcome/${kind}`);
  expect(landed.searchParams.has('code')).toBe(false);
  expect(landed.searchParams.has('state')).toBe(false);
  for (const value of new URL(callbackUrl).searchParams.values()) {
    if (value.length >= 8) expect(url).not.toContain(value);
  }
}

describe('given a user who clicks "Connect to QuickBooks" and consents at Intuit', () => {
  it('A2: Chromium keeps the Secure, HttpOnly, SameSite=Lax __Host- flow cookie on http://localhost', async () => {
    await openConsentPage(page, stack);

    const cookies = await context.cookies(stack.url);
    expect(cookies).toEqual([
      expect.objectContaining({
        name: expect.stringMatching(FLOW_COOKIE_NAME_PATTERN),
        domain: 'localhost',
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'Lax',
      }),
    ]);
    expect(await mainText(page)).toContain('wants to connect to');
  });

  it('lands on the Connected page, with no code or state in the address bar, after exactly one exchange', async () => {
    const exchanges = exchangeCounter(stack);
    await openConsentPage(page, stack);

    const callbackUrl = await callbackUrlOf(page, stack, () => consentButton(page).click());
    await waitForHeading(page, HEADING.connected);

    expect(await mainText(page)).toContain('can now work with your QuickBooks Online data');
    expectCleanOutcomeUrl(page.url(), 'connected', callbackUrl);
    expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
    expect(exchanges()).toBe(1);
  });
});

describe('given a connected user who reloads and moves through history', () => {
  let callbackUrl: string;

  beforeEach(async () => {
    await openConsentPage(page, stack);
    callbackUrl = await callbackUrlOf(page, stack, () => consentButton(page).click());
    await waitForHeading(page, HEADING.connected);
  });

  it('stays connected on reload, back and forward, and Intuit sees the code once', async () => {
    await page.reload();
    await waitForHeading(page, HEADING.connected);

    // The callback answered 303, so its URL (with the code) never became a history entry: back
    // leads to Intuit's consent page, forward to the outcome page.
    await page.goBack();
    await waitForConsentPage(page, stack);
    expect(isCallbackUrl(stack, page.url())).toBe(false);

    await page.goForward();
    await waitForHeading(page, HEADING.connected);
    expectCleanOutcomeUrl(page.url(), 'connected', callbackUrl);
    expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
  });

  it('C2: stays connected when the callback URL is opened again (replay), without a second exchange', async () => {
    const exchanges = exchangeCounter(stack);

    await page.goto(callbackUrl);
    await waitForHeading(page, HEADING.connected);

    expectCleanOutcomeUrl(page.url(), 'connected', callbackUrl);
    expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
    expect(exchanges()).toBe(0);
  });

  it('A2/C2: the outcome expires the flow cookie, and the callback URL still lands on the first outcome without it, in this browser and in a fresh one', async () => {
    // The browser dropped the cookie when the outcome answered: nothing piles up per flow.
    const flowCookies = (await context.cookies(stack.url)).filter((c) =>
      FLOW_COOKIE_NAME_PATTERN.test(c.name),
    );
    expect(flowCookies).toEqual([]);
    const exchanges = exchangeCounter(stack);

    await page.goto(callbackUrl);
    await waitForHeading(page, HEADING.connected);

    const fresh = await newContext();
    try {
      const freshPage = await fresh.newPage();
      await freshPage.goto(callbackUrl);
      await waitForHeading(freshPage, HEADING.connected);
      expectCleanOutcomeUrl(freshPage.url(), 'connected', callbackUrl);
    } finally {
      await closeContext(fresh);
    }
    expect(exchanges()).toBe(0);
    expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
  });

  it('B1: consenting again on the consent page found in history is refused as already used, with no exchange', async () => {
    const exchanges = exchangeCounter(stack);
    await page.goBack();
    await waitForConsentPage(page, stack);

    // Intuit issues a second code for the same state; the state was spent by the first one.
    const secondCallback = await callbackUrlOf(page, stack, () => consentButton(page).click());
    await waitForHeading(page, HEADING.expired);

    expect(codeHash(secondCallback)).not.toBe(codeHash(callbackUrl));
    expect(exchanges()).toBe(0);
    expect(await mainText(page)).toContain('Start again to connect your company.');
  });
});

describe('given a user who double-clicks the consent button', () => {
  it('C1: exchanges once and lands on the Connected page', async () => {
    const exchanges = exchangeCounter(stack);
    const callbacks: string[] = [];
    page.on('request', (request) => {
      if (isCallbackUrl(stack, request.url())) callbacks.push(request.url());
    });
    await openConsentPage(page, stack);

    await consentButton(page).dblclick();
    await waitForHeading(page, HEADING.connected);

    expect(callbacks.length).toBeGreaterThanOrEqual(1);
    expect(exchanges()).toBe(1);
    expect(await mainText(page)).toContain('can now work with your QuickBooks Online data');
  });
});

describe('given the callback URL opened in a second tab at the same moment as the first', () => {
  it('C1: exchanges once and both tabs end on the Connected page', async () => {
    await openConsentPage(page, stack);
    const callbackUrl = await withheldCallbackUrl(page, stack, () =>
      clickWithoutWaiting(consentButton(page)),
    );
    const secondTab = await context.newPage();

    // Both tabs open the callback URL at the same moment.
    await Promise.all([page.goto(callbackUrl), secondTab.goto(callbackUrl)]);

    // Either tab may pass through the self-refreshing "Finishing your connection" page first.
    await Promise.all([
      waitForHeading(page, HEADING.connected),
      waitForHeading(secondTab, HEADING.connected),
    ]);
    expectCleanOutcomeUrl(page.url(), 'connected', callbackUrl);
    expectCleanOutcomeUrl(secondTab.url(), 'connected', callbackUrl);
    expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
  });
});

describe('given a user who declines consent', () => {
  it('B4: shows the cancelled page, and its button starts a fresh flow that succeeds', async () => {
    const exchanges = exchangeCounter(stack);
    await openConsentPage(page, stack);

    const cancelUrl = await callbackUrlOf(page, stack, () => declineButton(page).click());
    await waitForHeading(page, HEADING.cancelled);
    expect(await mainText(page)).toContain('was not connected to QuickBooks');
    expectCleanOutcomeUrl(page.url(), 'cancelled', cancelUrl);
    expect(exchanges()).toBe(0);

    await reconnectButton(page).click();
    await waitForConsentPage(page, stack);
    const callbackUrl = await callbackUrlOf(page, stack, () => consentButton(page).click());
    await waitForHeading(page, HEADING.connected);
    expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
    expect(exchanges()).toBe(1);
  });
});

describe('given a user who waits on the consent page past the flow lifetime', () => {
  it('B1: shows the expired page without an exchange, and its button starts a fresh flow that succeeds', async () => {
    const shortLived = stack;
    const exchanges = exchangeCounter(shortLived);
    await openConsentPage(page, shortLived);

    // The user lingers on Intuit's page until the flow's lifetime has run out.
    await shortLived.expireFlow(new URL(page.url()).searchParams.get('state') ?? '');
    await consentButton(page).click();
    await waitForHeading(page, HEADING.expired);
    expect(await mainText(page)).toContain('each QuickBooks sign-in link works once, for a few minutes');
    expect(exchanges()).toBe(0);

    await reconnectButton(page).click();
    await waitForConsentPage(page, shortLived);
    const callbackUrl = await callbackUrlOf(page, shortLived, () => consentButton(page).click());
    await waitForHeading(page, HEADING.connected);
    expect(shortLived.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
    expect(exchanges()).toBe(1);
  });
});

describe('given the callback URL opened in another browser (no flow cookie)', () => {
  it('A2/B1: refuses it with the expired page and no exchange, and the rightful browser still connects', async () => {
    await openConsentPage(page, stack);
    const callbackUrl = await withheldCallbackUrl(page, stack, () =>
      clickWithoutWaiting(consentButton(page)),
    );

    const otherBrowser = await newContext();
    try {
      const stranger = await otherBrowser.newPage();
      const response = await stranger.goto(callbackUrl);
      expect(response?.status()).toBe(400);
      await waitForHeading(stranger, HEADING.expired);
      expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(0);
    } finally {
      await closeContext(otherBrowser);
    }

    // The rightful browser follows Intuit's redirect after the stranger's attempt.
    await page.goto(callbackUrl);
    await waitForHeading(page, HEADING.connected);
    expectCleanOutcomeUrl(page.url(), 'connected', callbackUrl);
    expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
  });
});

interface ReachablePage {
  readonly name: string;
  readonly heading: string;
  /** The interactive controls a user finds on it, in Tab order ("tag: text"). */
  readonly controls: readonly string[];
  /** Brings `page` to this page; may return a step that finishes the journey afterwards. */
  readonly reach: (page: Page) => Promise<(() => Promise<void>) | void>;
}

const A_STATE = 'A'.repeat(43);
const RECONNECT = 'a: Connect to QuickBooks';

const REACHABLE_PAGES: readonly ReachablePage[] = [
  {
    name: 'intuit-consent',
    heading: '',
    controls: ['select: Sandbox Company_US_1', 'button: Connect', 'button: Cancel'],
    reach: async (page) => openConsentPage(page, stack),
  },
  {
    name: 'connected',
    heading: HEADING.connected,
    controls: [],
    reach: async (page) => {
      await openConsentPage(page, stack);
      await consentButton(page).click();
    },
  },
  {
    name: 'cancelled',
    heading: HEADING.cancelled,
    controls: [RECONNECT],
    reach: async (page) => {
      await openConsentPage(page, stack);
      await declineButton(page).click();
    },
  },
  {
    name: 'expired',
    heading: HEADING.expired,
    controls: [RECONNECT],
    // A callback whose state this browser never started.
    reach: async (page) =>
      void (await page.goto(`${stack.url}/callback?code=abc&state=${A_STATE}&realmId=1`)),
  },
  {
    name: 'failed',
    heading: HEADING.failed,
    controls: [RECONNECT],
    reach: async (page) => {
      stack.emulator.setFault({ mode: 'status503', times: 1 });
      await openConsentPage(page, stack);
      await consentButton(page).click();
    },
  },
  {
    name: 'unverified',
    heading: HEADING.unverified,
    controls: ['a: Try again'],
    reach: async (page) => {
      stack.emulator.setCompanyInfoFault({ mode: 'status503', times: 1 });
      await openConsentPage(page, stack);
      await consentButton(page).click();
    },
  },
  {
    name: 'finishing',
    heading: HEADING.finishing,
    controls: [],
    reach: async (page) => {
      // The first tab's exchange waits 6 s on Intuit; a duplicate waits 3 s for it (the default
      // in-flight wait), then gets the finishing page. Its self-refresh is cancelled while the
      // checks run; then the page is reloaded, and both tabs converge on the Connected page.
      stack.emulator.setFault({ mode: 'latency', latencyMs: SLOW_INTUIT_MS, times: 1 });
      const firstTab = await page.context().newPage();
      await openConsentPage(firstTab, stack);
      const callbackUrl = await callbackUrlOf(firstTab, stack, () =>
        clickWithoutWaiting(consentButton(firstTab)),
      );
      await eventually(() => stack.emulator.exchangeCount(codeHash(callbackUrl)) === 1);

      const reloads = await freezeCallbackReloads(page, stack);
      await page.goto(callbackUrl);
      return async () => {
        await reloads.resume();
        await page.reload();
        await Promise.all([
          waitForHeading(page, HEADING.connected),
          waitForHeading(firstTab, HEADING.connected),
        ]);
        expect(stack.emulator.exchangeCount(codeHash(callbackUrl))).toBe(1);
      };
    },
  },
  {
    name: 'not-found',
    heading: HEADING.notFound,
    controls: [RECONNECT],
    reach: async (page) => void (await page.goto(`${stack.url}/outcome/nope`)),
  },
  {
    name: 'reconnect-from-app',
    heading: HEADING.reconnectFromApp,
    controls: [],
    // The Reconnect URL where only the app may start a flow and no app reconnect page is configured.
    reach: async (page) => {
      linksRequired ??= await startTestStack({ env: { REQUIRE_SIGNED_CONNECT_LINKS: 'true' } });
      await page.goto(`${linksRequired.url}/reconnect`);
    },
  },
  {
    name: 'disconnected',
    heading: HEADING.disconnected,
    controls: [RECONNECT],
    reach: async (page) => void (await page.goto(`${stack.url}/disconnect?realmId=1234567`)),
  },
  {
    name: 'link-refused',
    heading: HEADING.linkRefused,
    controls: [],
    // A connect link whose signature does not match (A5, I1): refused before any flow.
    reach: async (page) =>
      void (await page.goto(
        `${stack.url}/connect?tenant=tenant-a&exp=4102444800&nonce=${'A'.repeat(22)}&sig=${'B'.repeat(43)}`,
      )),
  },
  {
    name: 'other-account',
    heading: HEADING.otherAccount,
    controls: [],
    // Where the callback sends a flow that came back with a company bound to another tenant (B7).
    reach: async (page) => void (await page.goto(`${stack.url}/outcome/other-account?ref=K7PQ2M9X`)),
  },
  {
    name: 'invalid-request',
    heading: HEADING.invalidRequest,
    controls: [RECONNECT],
    reach: async (page) =>
      void (await page.goto(`${stack.url}/callback?code=abc&code=def&state=${A_STATE}&realmId=1`)),
  },
];

describe('every page a user can reach', () => {
  it.each(REACHABLE_PAGES)(
    '$name: is screenshotted and has lang, a title, one main landmark, one h1, Tab-reachable controls and no WCAG 2 A/AA violation',
    async ({ name, heading, controls, reach }) => {
      const finish = await reach(page);
      try {
        if (heading !== '') await waitForHeading(page, heading);
        else await waitForConsentPage(page, stack);
        await saveScreenshot(page, name);

        const structure = await inspectStructure(page);
        expect(structure.lang).toMatch(/^[a-z]{2}(-[A-Z]{2})?$/);
        expect(structure.title).not.toBe('');
        expect(structure.mainLandmarks).toBe(1);
        expect(structure.h1Count).toBe(1);
        expect(structure.controls).toEqual(controls);
        expect(structure.reachedByTab).toEqual(controls);

        expect(await axeViolations(page)).toEqual([]);
      } finally {
        if (finish) await finish();
      }
    },
  );
});

describe('F1: log canary over the browser journeys above', () => {
  it('no code, state or cookie value a browser carried appears in the service output', () => {
    const text = output.text();
    const leaked = [...secretsSeen].filter((secret) => secret.length >= 8 && text.includes(secret));
    expect(leaked).toEqual([]);
  });
});

/** Polls a condition (something outside the browser, such as the emulator's records). */
async function eventually(condition: () => boolean, timeoutMs = OUTCOME_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
