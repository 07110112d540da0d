/**
 * The one place where what a flow decided becomes what a browser gets: pages, redirects, cookies
 * and their headers (E1, E2). The app's own success and failure URLs are configuration, never a
 * request parameter (A4).
 */
import type { ServiceConfig } from '../../core/config';
import type { RedirectClaims } from '../../core/connect-links';
import { expiredFlowCookie, flowCookie } from '../../core/flow-cookie';
import type { FlowResult } from '../../core/flow-results';
import type { HttpResponse } from './http-responses';
import { pageResponse, redirectResponse } from './http-responses';
import type { PageContext } from './pages';
import { CONNECT_PATH, OUTCOME_PATH } from './paths';

/** What rendering needs to know of the deployment. */
export interface RenderSettings {
  readonly appName: string;
  readonly appReturnUrl?: string;
  readonly appSuccessUrl?: string;
  readonly appFailureUrl?: string;
  /** Adds HSTS; browsers ignore it over http anyway. */
  readonly https: boolean;
}

export function renderSettingsOf(config: ServiceConfig): RenderSettings {
  return {
    appName: config.appName,
    https: config.redirectUri.startsWith('https:'),
    ...(config.appReturnUrl !== undefined ? { appReturnUrl: config.appReturnUrl } : {}),
    ...(config.appSuccessUrl !== undefined ? { appSuccessUrl: config.appSuccessUrl } : {}),
    ...(config.appFailureUrl !== undefined ? { appFailureUrl: config.appFailureUrl } : {}),
  };
}

export function pageContextOf(settings: RenderSettings, reference?: string): PageContext {
  return {
    appName: settings.appName,
    connectPath: CONNECT_PATH,
    ...(settings.appReturnUrl !== undefined ? { appReturnUrl: settings.appReturnUrl } : {}),
    ...(reference !== undefined ? { reference } : {}),
  };
}

/**
 * Signs what a redirect to the app says (README "Tenants and signed connect links"): the `ts` and
 * `sig` parameters to add. Absent when the key could not be read: the redirect goes unsigned.
 */
export type RedirectSigner = (claims: RedirectClaims) => { readonly ts: number; readonly sig: string };

export function renderFlowResult(
  result: FlowResult,
  settings: RenderSettings,
  signRedirect?: RedirectSigner,
): HttpResponse {
  const https = settings.https;
  switch (result.kind) {
    case 'outcome':
      return outcomeRedirect(result, settings, signRedirect);
    case 'link-refused':
      return pageResponse(403, 'link-refused', pageContextOf(settings), https);
    case 'authorize':
      return redirectResponse(302, result.location, https, [
        flowCookie(result.flowCookie.state, result.flowCookie.issuedAt, result.flowCookie.maxAgeSeconds),
      ]);
    case 'refused':
      return pageResponse(400, 'expired', pageContextOf(settings), https);
    case 'invalid-request':
      return pageResponse(400, 'invalid-request', pageContextOf(settings), https);
    case 'in-flight':
      return pageResponse(200, 'finishing', pageContextOf(settings), https);
    case 'unavailable':
      return pageResponse(503, result.reason, pageContextOf(settings, result.reference), https);
    case 'method-not-allowed':
      return pageResponse(405, 'method-not-allowed', pageContextOf(settings), https);
    case 'app-reconnect':
      return redirectResponse(302, result.location, https);
    case 'notice':
      return pageResponse(200, result.page, pageContextOf(settings), https);
  }
}

/** E1: 303 to an outcome page whose URL carries no code and no state. */
function outcomeRedirect(
  result: Extract<FlowResult, { kind: 'outcome' }>,
  settings: RenderSettings,
  signRedirect: RedirectSigner | undefined,
): HttpResponse {
  const cookies =
    result.forgetFlowState !== undefined ? [expiredFlowCookie(result.forgetFlowState)] : undefined;
  const { outcome, reference, realmId, tenantId } = result;
  const failure = outcome === 'failed' || outcome === 'unverified' || outcome === 'other-account';
  const signed = (target: URL, claims: RedirectClaims): string => {
    if (claims.realmId !== undefined) target.searchParams.set('realmId', claims.realmId);
    if (claims.tenantId !== undefined) target.searchParams.set('tenantId', claims.tenantId);
    if (signRedirect !== undefined) {
      const { ts, sig } = signRedirect(claims);
      target.searchParams.set('ts', String(ts));
      target.searchParams.set('sig', sig);
    }
    return target.toString();
  };
  if (outcome === 'connected' && settings.appSuccessUrl !== undefined) {
    const target = new URL(settings.appSuccessUrl);
    const claims: RedirectClaims = {
      outcome,
      ...(realmId !== undefined ? { realmId } : {}),
      ...(tenantId !== undefined ? { tenantId } : {}),
    };
    return redirectResponse(303, signed(target, claims), settings.https, cookies);
  }
  if ((failure || outcome === 'cancelled') && settings.appFailureUrl !== undefined) {
    const target = new URL(settings.appFailureUrl);
    const claimed = failure ? 'failed' : 'cancelled';
    target.searchParams.set('outcome', claimed);
    const ref = failure ? reference : undefined;
    if (ref !== undefined) target.searchParams.set('ref', ref);
    const claims: RedirectClaims = {
      outcome: claimed,
      ...(tenantId !== undefined ? { tenantId } : {}),
      ...(ref !== undefined ? { ref } : {}),
    };
    return redirectResponse(303, signed(target, claims), settings.https, cookies);
  }
  const query = failure && reference !== undefined ? `?ref=${reference}` : '';
  return redirectResponse(303, `${OUTCOME_PATH}/${outcome}${query}`, settings.https, cookies);
}
