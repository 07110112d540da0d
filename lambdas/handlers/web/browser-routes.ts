/**
 * The browser routes as functions of a request: resolve the runtime (a broken configuration is a
 * "not available yet" page, G5), call the flow, render what it decided.
 */
import type { CallbackRequest } from '../../core/callback-flow';
import { handleCallback } from '../../core/callback-flow';
import type { ConnectRequest } from '../../core/connect-flow';
import { handleConnect } from '../../core/connect-flow';
import { handleReconnect } from '../../core/reconnect-flow';
import type { ConnectLinkKeys } from '../../core/connect-links';
import { redirectSignature } from '../../core/connect-links';
import { DEFAULT_APP_NAME } from '../../core/config';
import { notConfigured } from '../../core/flow-failures';
import type { FlowResult } from '../../core/flow-results';
import type { BaseRuntime, ConnectorRuntime, FlowDependencies } from '../../core/runtime';
import { tryRuntime } from '../../core/runtime';
import type { HttpResponse } from './http-responses';
import type { RedirectSigner, RenderSettings } from './render';
import { renderFlowResult, renderSettingsOf } from './render';

export interface BrowserRequest {
  readonly method: string;
}

export function callbackRoute(
  request: BrowserRequest & CallbackRequest,
  deps: FlowDependencies<ConnectorRuntime>,
): Promise<HttpResponse> {
  return route(request, deps, (runtime) => handleCallback(request, runtime, deps));
}

export function connectRoute(
  request: BrowserRequest & ConnectRequest,
  deps: FlowDependencies<BaseRuntime>,
): Promise<HttpResponse> {
  return route(request, deps, (runtime) => handleConnect(runtime, deps, request));
}

export function reconnectRoute(
  request: BrowserRequest & { readonly rawQuery: string },
  deps: FlowDependencies<BaseRuntime>,
): Promise<HttpResponse> {
  return route(request, deps, (runtime) => handleReconnect(request.rawQuery, runtime, deps));
}

async function route<R extends BaseRuntime>(
  request: BrowserRequest,
  deps: FlowDependencies<R>,
  flow: (runtime: R) => Promise<FlowResult>,
): Promise<HttpResponse> {
  const fallback: RenderSettings = { appName: deps.fallbackAppName ?? DEFAULT_APP_NAME, https: true };
  // B5: only GET; API Gateway routes nothing else, the local server does.
  if (request.method !== 'GET') return renderFlowResult({ kind: 'method-not-allowed' }, fallback);
  const resolved = tryRuntime(deps);
  if (!resolved.ok) return renderFlowResult(notConfigured(deps.telemetry, resolved.error), fallback);
  const result = await flow(resolved.runtime);
  const settings = renderSettingsOf(resolved.runtime.config);
  const redirectsToApp = settings.appSuccessUrl !== undefined || settings.appFailureUrl !== undefined;
  if (result.kind !== 'outcome' || !redirectsToApp) return renderFlowResult(result, settings);
  return renderFlowResult(result, settings, await redirectSigner(resolved.runtime, deps));
}

/**
 * The signer of redirects to the app, with the key derived for them. When the key cannot be read
 * the redirect still goes, unsigned (the app's verification then says "not valid"), and it is logged.
 */
async function redirectSigner<R extends BaseRuntime>(
  runtime: R,
  deps: FlowDependencies<R>,
): Promise<RedirectSigner | undefined> {
  if (runtime.connectLinkKeys === undefined) return undefined;
  let keys: ConnectLinkKeys;
  try {
    keys = await runtime.connectLinkKeys.get();
  } catch (error) {
    deps.telemetry.record({
      code: 'REDIRECT_UNSIGNED',
      fields: { errorName: error instanceof Error ? error.name : typeof error },
    });
    return undefined;
  }
  return (claims) => {
    const ts = Math.floor(deps.clock() / 1000);
    return { ts, sig: redirectSignature(keys, claims, ts) };
  };
}
