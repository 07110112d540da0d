/**
 * Evidence about a page as a user gets it: a screenshot, and the basics of accessibility (lang,
 * title, a main landmark, one h1, every control reachable with Tab, and axe-core's WCAG 2 A/AA
 * rules, colour contrast included). axe is injected with page.evaluate, which the pages' CSP
 * (no script-src) does not govern, so the pages are checked exactly as served.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';

export const SCREENSHOT_DIR = resolve(__dirname, '../../../test-results/screenshots');

export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/*
 * The minimal DOM shapes the in-page functions use. The project compiles without lib "dom" (it is
 * Node code), and these functions run in the page, where only globals exist; types are erased.
 */
interface DomElement {
  readonly tagName: string;
  readonly textContent: string | null;
  readonly tabIndex: number;
  getClientRects(): { readonly length: number };
  hasAttribute(name: string): boolean;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  blur(): void;
}
interface DomDocument {
  readonly title: string;
  readonly documentElement: DomElement;
  readonly activeElement: DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement> & { readonly length: number };
}
interface AxeResult {
  violations: Array<{
    id: string;
    impact?: string | null;
    help: string;
    nodes: Array<{ target: unknown[]; failureSummary?: string }>;
  }>;
}
interface PageGlobals {
  readonly document: DomDocument;
  readonly axe: { run(context: DomDocument, options: object): Promise<AxeResult> };
}

export interface PageStructure {
  readonly lang: string;
  readonly title: string;
  readonly mainLandmarks: number;
  readonly h1Count: number;
  /** Every visible interactive control, as "tag: text". */
  readonly controls: string[];
  /** The controls that received focus while pressing Tab, in order. */
  readonly reachedByTab: string[];
}

export async function inspectStructure(page: Page): Promise<PageStructure> {
  await page.bringToFront();
  const facts = await page.evaluate(() => {
    const document = (globalThis as unknown as PageGlobals).document;
    const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]';
    const controls = Array.from(document.querySelectorAll(selector)).filter(
      (el) => el.getClientRects().length > 0 && !el.hasAttribute('disabled') && el.tabIndex >= 0,
    );
    controls.forEach((el, i) => el.setAttribute('data-e2e-control', String(i)));
    document.activeElement?.blur();
    return {
      lang: document.documentElement.getAttribute('lang') ?? '',
      title: document.title.trim(),
      mainLandmarks: document.querySelectorAll('main, [role="main"]').length,
      h1Count: document.querySelectorAll('h1').length,
      controls: controls.map((el) => `${el.tagName.toLowerCase()}: ${(el.textContent ?? '').trim()}`),
    };
  });
  const reachedByTab: string[] = [];
  // One Tab per control, plus one: focus may start on the document before the first control.
  for (let i = 0; i <= facts.controls.length; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = (globalThis as unknown as PageGlobals).document.activeElement;
      return el?.hasAttribute('data-e2e-control')
        ? `${el.tagName.toLowerCase()}: ${(el.textContent ?? '').trim()}`
        : null;
    });
    if (focused !== null && !reachedByTab.includes(focused)) reachedByTab.push(focused);
  }
  return { ...facts, reachedByTab };
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null | undefined;
  readonly help: string;
  /** Each failing element, with axe's explanation (e.g. the measured contrast ratio). */
  readonly nodes: string[];
}

let axeSource: string | undefined;

/** Runs axe-core's WCAG 2.0/2.1 level A and AA rules against the page as rendered. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const { axe, document } = globalThis as unknown as PageGlobals;
    const result = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'], resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map(
        (n) => `${n.target.map(String).join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`,
      ),
    }));
  });
}
