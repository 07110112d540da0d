/**
 * A browser's part of the OAuth dance, over plain HTTP: start a flow at /connect, answer the
 * emulator's consent page, and replay callbacks with or without the flow cookie.
 */
import type { IntuitEmulator } from '../../local/intuit-emulator';

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  readonly location: string | undefined;
  readonly setCookies: string[];
}

export async function get(url: string, cookie?: string): Promise<HttpResult> {
  const response = await fetch(url, {
    redirect: 'manual',
    headers: cookie !== undefined ? { cookie } : {},
  });
  return {
    status: response.status,
    headers: response.headers,
    body: await response.text(),
    location: response.headers.get('location') ?? undefined,
    setCookies: response.headers.getSetCookie(),
  };
}

export interface StartedFlow {
  /** "name=value", as a browser would send it back. */
  readonly cookie: string;
  readonly state: string;
  readonly authorizeUrl: URL;
  readonly setCookie: string;
}

export async function startFlow(baseUrl: string): Promise<StartedFlow> {
  const response = await get(`${baseUrl}/connect`);
  if (response.status !== 302 || response.location === undefined) {
    throw new Error(`/connect answered ${response.status}: ${response.body.slice(0, 200)}`);
  }
  const setCookie = response.setCookies[0] ?? '';
  const authorizeUrl = new URL(response.location);
  return {
    cookie: setCookie.split(';')[0] ?? '',
    state: authorizeUrl.searchParams.get('state') ?? '',
    authorizeUrl,
    setCookie,
  };
}

/** Submits the emulator's consent form; returns the callback URL Intuit would send the browser to. */
export async function consent(
  emulator: IntuitEmulator,
  flow: StartedFlow,
  decision: 'allow' | 'deny' = 'allow',
  /** The company the user picks on the consent page. @default the emulator's default company */
  realmId?: string,
): Promise<string> {
  const form = new URLSearchParams({
    client_id: flow.authorizeUrl.searchParams.get('client_id') ?? '',
    redirect_uri: flow.authorizeUrl.searchParams.get('redirect_uri') ?? '',
    state: flow.state,
    scope: flow.authorizeUrl.searchParams.get('scope') ?? '',
    decision,
    ...(realmId !== undefined ? { realm_id: realmId } : {}),
  });
  const response = await fetch(`${emulator.url}/connect/oauth2/decision`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  const location = response.headers.get('location');
  if (response.status !== 302 || location === null) throw new Error(`consent answered ${response.status}`);
  return location;
}

/** Starts a flow and consents: the callback URL and the cookie of the browser that started it. */
export async function consentedCallback(
  baseUrl: string,
  emulator: IntuitEmulator,
): Promise<{ url: string; flow: StartedFlow }> {
  const flow = await startFlow(baseUrl);
  return { url: await consent(emulator, flow), flow };
}

export function codeOf(callbackUrl: string): string {
  return new URL(callbackUrl).searchParams.get('code') ?? '';
}

/**
 * Like a browser: follows the "finishing your connection" page's self-refresh until the callback
 * answers with its outcome (a duplicate that arrives mid-exchange may get that page under load).
 */
export async function getFollowingRefresh(
  url: string,
  cookie?: string,
  maxRefreshes = 10,
): Promise<HttpResult> {
  let response = await get(url, cookie);
  for (
    let i = 0;
    i < maxRefreshes && response.status === 200 && /http-equiv="refresh"/.test(response.body);
    i++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    response = await get(url, cookie);
  }
  return response;
}
