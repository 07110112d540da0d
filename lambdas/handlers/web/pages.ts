/**
 * Every page a user can reach: small, accessible, escaped, no third-party resources (E2, E3). Pages
 * say what happened and what to do next; details stay in the logs, joined by a short reference.
 */
import { createHash } from 'node:crypto';

export type PageKind =
  | 'connected'
  | 'cancelled'
  | 'expired'
  | 'failed'
  | 'unverified'
  | 'other-account'
  | 'link-refused'
  | 'finishing'
  | 'not-configured'
  | 'try-again'
  | 'invalid-request'
  | 'not-found'
  | 'method-not-allowed'
  | 'disconnected'
  | 'reconnect-from-app';

/** Outcome pages reachable at /outcome/{kind} after a 303 from the callback (E1). */
export const OUTCOME_KINDS = [
  'connected',
  'cancelled',
  'expired',
  'failed',
  'unverified',
  'other-account',
] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

export function isOutcomeKind(value: string): value is OutcomeKind {
  return (OUTCOME_KINDS as readonly string[]).includes(value);
}

export interface PageContext {
  readonly appName: string;
  /** Path of the connect route, for "Connect again" buttons. */
  readonly connectPath: string;
  readonly appReturnUrl?: string;
  /** Short id shown on failure pages and logged with the failure (E3). */
  readonly reference?: string;
}

interface PageContent {
  readonly title: string;
  readonly heading: string;
  readonly paragraphs: readonly string[];
  readonly action?: { readonly href: string; readonly label: string };
  readonly showReference: boolean;
  readonly refreshSeconds?: number;
  readonly tone: 'success' | 'neutral' | 'problem';
}

function contentFor(kind: PageKind, ctx: PageContext): PageContent {
  const reconnect = { href: ctx.connectPath, label: 'Connect to QuickBooks' };
  switch (kind) {
    case 'connected':
      return {
        title: 'Connected to QuickBooks',
        heading: 'Your QuickBooks company is connected',
        paragraphs: [`${ctx.appName} can now work with your QuickBooks Online data. You can close this tab.`],
        ...(ctx.appReturnUrl !== undefined
          ? { action: { href: ctx.appReturnUrl, label: `Return to ${ctx.appName}` } }
          : {}),
        showReference: false,
        tone: 'success',
      };
    case 'cancelled':
      return {
        title: 'Connection cancelled',
        heading: 'You cancelled the connection',
        paragraphs: [
          `${ctx.appName} was not connected to QuickBooks. You can start again whenever you are ready.`,
        ],
        action: reconnect,
        showReference: false,
        tone: 'neutral',
      };
    case 'expired':
      return {
        title: 'This link has expired',
        heading: 'This link has expired or was already used',
        paragraphs: [
          'For your security, each QuickBooks sign-in link works once, for a few minutes, in the browser that started it.',
          'Start again to connect your company.',
        ],
        action: reconnect,
        showReference: false,
        tone: 'neutral',
      };
    case 'failed':
      return {
        title: 'Connection not completed',
        heading: 'We could not finish connecting to QuickBooks',
        paragraphs: [
          'QuickBooks did not confirm the connection, so nothing was saved.',
          // Without a reference there is nothing below to quote.
          ctx.reference !== undefined
            ? 'Please connect again. If it keeps happening, contact support and quote the reference below.'
            : 'Please connect again. If it keeps happening, contact support.',
        ],
        action: reconnect,
        showReference: true,
        tone: 'problem',
      };
    case 'unverified':
      return {
        title: 'Please try again',
        heading: 'We could not confirm your QuickBooks company',
        paragraphs: [
          'We could not confirm with QuickBooks which company you chose, so nothing was saved.',
          ctx.reference !== undefined
            ? 'Please try again in a moment. If it keeps happening, contact support and quote the reference below.'
            : 'Please try again in a moment. If it keeps happening, contact support.',
        ],
        action: { href: ctx.connectPath, label: 'Try again' },
        showReference: true,
        tone: 'problem',
      };
    case 'other-account':
      return {
        title: 'Connected to another account',
        heading: 'This QuickBooks company is already connected to another account',
        paragraphs: [
          `The company you chose is connected to a different ${ctx.appName} account, so nothing was changed or saved.`,
          ctx.reference !== undefined
            ? 'Sign in to that account to use it, or ask its owner to disconnect it first. Support can help with the reference below.'
            : 'Sign in to that account to use it, or ask its owner to disconnect it first.',
        ],
        ...(ctx.appReturnUrl !== undefined
          ? { action: { href: ctx.appReturnUrl, label: `Return to ${ctx.appName}` } }
          : {}),
        showReference: true,
        tone: 'problem',
      };
    case 'link-refused':
      return {
        title: 'Ask for a new link',
        heading: 'This connection link is not valid any more',
        paragraphs: [
          'For your security, each link to connect QuickBooks works once, for a few minutes, and only as it was given.',
          `Go back to ${ctx.appName} and start connecting again there to get a new link. Nothing was sent to QuickBooks.`,
        ],
        ...(ctx.appReturnUrl !== undefined
          ? { action: { href: ctx.appReturnUrl, label: `Return to ${ctx.appName}` } }
          : {}),
        showReference: false,
        tone: 'neutral',
      };
    case 'finishing':
      return {
        title: 'Finishing your connection',
        heading: 'Finishing your connection…',
        paragraphs: ['QuickBooks is confirming the connection. This page refreshes by itself in a moment.'],
        showReference: false,
        // An immediate reload, not a timed one (WCAG 2.2.1, F41): the server holds each reload for
        // up to its in-flight wait (3 s) while the exchange finishes, so this polls without a timer.
        refreshSeconds: 0,
        tone: 'neutral',
      };
    case 'not-configured':
      return {
        title: 'Not available yet',
        heading: 'Connecting to QuickBooks is not available yet',
        paragraphs: [
          `${ctx.appName} has not finished setting up its QuickBooks connection. Please try again later.`,
        ],
        showReference: true,
        tone: 'problem',
      };
    case 'try-again':
      return {
        title: 'Please try again',
        heading: 'Something went wrong on our side',
        paragraphs: ['Nothing was sent to QuickBooks. Please try again in a moment.'],
        action: reconnect,
        showReference: true,
        tone: 'problem',
      };
    case 'invalid-request':
      return {
        title: 'Invalid request',
        heading: 'This link is not valid',
        paragraphs: ['The address was changed or is incomplete. Start again to connect your company.'],
        action: reconnect,
        showReference: false,
        tone: 'neutral',
      };
    case 'not-found':
      return {
        title: 'Page not found',
        heading: 'Page not found',
        paragraphs: ['There is nothing at this address.'],
        action: reconnect,
        showReference: false,
        tone: 'neutral',
      };
    case 'method-not-allowed':
      return {
        title: 'Method not allowed',
        heading: 'Method not allowed',
        paragraphs: ['This address only answers ordinary page loads.'],
        showReference: false,
        tone: 'neutral',
      };
    case 'disconnected':
      return {
        title: 'Disconnected from QuickBooks',
        heading: `${ctx.appName} is disconnected from QuickBooks`,
        paragraphs: [
          `${ctx.appName} can no longer reach your QuickBooks company. Nothing else was changed in QuickBooks.`,
          'You can connect again at any time.',
        ],
        action:
          ctx.appReturnUrl !== undefined
            ? { href: ctx.appReturnUrl, label: `Return to ${ctx.appName}` }
            : reconnect,
        showReference: false,
        tone: 'neutral',
      };
    case 'reconnect-from-app':
      return {
        title: 'Reconnect from the app',
        heading: `Reconnect QuickBooks from ${ctx.appName}`,
        paragraphs: [
          `To connect your QuickBooks company again, sign in to ${ctx.appName} and choose to connect QuickBooks there.`,
        ],
        ...(ctx.appReturnUrl !== undefined
          ? { action: { href: ctx.appReturnUrl, label: `Go to ${ctx.appName}` } }
          : {}),
        showReference: false,
        tone: 'neutral',
      };
  }
}

// One inline stylesheet, allowed by its hash in the CSP, so pages need no second request.
// Colours meet WCAG AA contrast (button: white on #0b6e0b is 6.5:1).
const STYLE = [
  ':root{color-scheme:light}',
  'body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f6f8;color:#1f2933}',
  'main{max-width:34rem;margin:12vh auto 0;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.12)}',
  'header{font-size:.875rem;color:#52606d;margin-bottom:1rem}',
  'h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}',
  '.success h1{color:#0b6e0b}.problem h1{color:#9b1c1c}',
  'p{margin:0 0 1rem}',
  'a.button{display:inline-block;margin-top:.5rem;padding:.75rem 1.25rem;border-radius:6px;background:#0b6e0b;color:#fff;font-weight:600;text-decoration:none}',
  'a.button:hover{background:#085a08}',
  'a.button:focus-visible{outline:3px solid #1f2933;outline-offset:2px}',
  '.reference{font-size:.875rem;color:#52606d}',
  'code{font-family:ui-monospace,monospace}',
].join('');

export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Renders a complete HTML document for a page kind. */
export function renderPage(kind: PageKind, ctx: PageContext): string {
  const page = contentFor(kind, ctx);
  const parts = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    page.refreshSeconds !== undefined ? `<meta http-equiv="refresh" content="${page.refreshSeconds}">` : '',
    `<title>${escapeHtml(page.title)} · ${escapeHtml(ctx.appName)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    `<body class="${page.tone}">`,
    `<main aria-labelledby="page-heading">`,
    `<header>${escapeHtml(ctx.appName)} · QuickBooks Online</header>`,
    `<h1 id="page-heading">${escapeHtml(page.heading)}</h1>`,
    ...page.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    page.action !== undefined
      ? `<p><a class="button" href="${escapeHtml(page.action.href)}">${escapeHtml(page.action.label)}</a></p>`
      : '',
    page.showReference && ctx.reference !== undefined
      ? `<p class="reference">Reference: <code>${escapeHtml(ctx.reference)}</code></p>`
      : '',
    '</main>',
    '</body>',
    '</html>',
  ];
  return parts.filter((p) => p !== '').join('\n');
}
