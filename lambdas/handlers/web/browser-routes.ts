/**
 * The browser routes as functions of a request: resolve the runtime (a broken configuration is a
 * "not available yet" page, G5), call the flow, render what it decided.
 */
import type { CallbackRequest } from '../../core/callback-flow';
import { handleCallback } from '../../core/callback-flow';
import { handleConnect } from '../../core/connect-flow';
import { handleReconnect } from '../../core/reconnect-flow';
import { DEFAULT_APP_NAME } from '../../core/config';
import { notConfigured } from '../../core/flow-failures';
import type { FlowResult } from '../../core/flow-results';
import type { BaseRuntime, ConnectorRuntime, FlowDependencies } from '../../core/runtime';
import { tryRuntime } from '../../core/runtime';
import type { HttpResponse } from './http-responses';
import type { RenderSettings } from './render';
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
  request: BrowserRequest,
  deps: FlowDependencies<BaseRuntime>,
): Promise<HttpResponse> {
  return route(request, deps, (runtime) => handleConnect(runtime, deps));
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
  return renderFlowResult(await flow(resolved.runtime), renderSettingsOf(resolved.runtime.config));
}
