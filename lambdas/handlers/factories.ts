/**
 * Lambda handlers built from their dependencies (the mobile-id-check-async pattern): the entry
 * files bind AWS adapters, the local server binds DynamoDB Local and the emulator, tests bind fakes.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { BaseRuntime, ConnectorRuntime, FlowDependencies } from '../core/runtime';
import { handleOutcome } from './web/outcome-page';
import type { RenderSettings } from './web/render';
import { pageContextOf } from './web/render';
import { callbackRoute, connectRoute, reconnectRoute } from './web/browser-routes';
import { ROUTES } from '../routes';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';
import type { ApiHandler } from './api-gateway';
import { apiHandler, requestOf } from './api-gateway';

export function createConnectHandler(
  deps: FlowDependencies<BaseRuntime>,
  telemetry: PowertoolsTelemetry,
  pages: RenderSettings,
): ApiHandler {
  return apiHandler(
    telemetry,
    (event, context) =>
      // One function serves /connect and the Reconnect URL: the same flow and the same grants.
      event.rawPath === ROUTES.reconnect.path
        ? reconnectRoute(requestOf(event, context), deps)
        : connectRoute(requestOf(event, context), deps),
    () => pageContextOf(pages),
    {
      metrics: true,
    },
  );
}

export function createCallbackHandler(
  deps: FlowDependencies<ConnectorRuntime>,
  telemetry: PowertoolsTelemetry,
  pages: RenderSettings,
): ApiHandler {
  return apiHandler(
    telemetry,
    (event, context) => callbackRoute(requestOf(event, context), deps),
    () => pageContextOf(pages),
    { metrics: true, timeoutPage: 'finishing' },
  );
}

/** The outcome pages need no secret and no table: only what to call the app and where to return. */
export function createOutcomeHandler(telemetry: PowertoolsTelemetry, pages: RenderSettings): ApiHandler {
  return apiHandler(
    telemetry,
    async (event: APIGatewayProxyEventV2) =>
      handleOutcome(
        {
          method: event.requestContext.http.method,
          kind: event.pathParameters?.['kind'],
          rawQuery: event.rawQueryString ?? '',
        },
        pageContextOf(pages),
        pages.https,
      ),
    () => pageContextOf(pages),
    { metrics: false },
  );
}
