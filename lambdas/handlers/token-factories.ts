/**
 * The app API and refresher handlers, built from their dependencies like the browser routes'
 * (factories.ts). Apart from that file so the connect bundle loads none of the token lifecycle.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';
import type { KeepAliveRunReport } from '../core/keep-alive';
import { runKeepAlive } from '../core/keep-alive';
import type { TokenDependencies } from '../core/runtime';
import { realmIdHintOf } from '../core/flow-identifiers';
import { TokenLifecycle } from '../core/token-lifecycle';
import { FUNCTIONS, ROUTES } from '../routes';
import { handleApiRequest } from './api/app-api';
import type { ApiHandler } from './api-gateway';
import { apiHandler, bodyOf, deadlineOf, iamCallerOf } from './api-gateway';
import { DEFAULT_APP_NAME } from '../core/config';
import { CONNECT_PATH } from './web/paths';
import type { RenderSettings } from './web/render';
import { pageContextOf, renderFlowResult } from './web/render';

export function createApiHandler(deps: TokenDependencies, telemetry: PowertoolsTelemetry): ApiHandler {
  return apiHandler(
    telemetry,
    (event, context) => {
      const body = bodyOf(event);
      const caller = iamCallerOf(event);
      return handleApiRequest(
        {
          method: event.requestContext.http.method,
          path: event.rawPath,
          rawQuery: event.rawQueryString ?? '',
          ...(body !== undefined ? { body } : {}),
          ...(caller !== undefined ? { caller } : {}),
          deadline: deadlineOf(context, FUNCTIONS.api.timeoutSeconds * 1000),
        },
        deps,
      );
    },
    () => ({ appName: DEFAULT_APP_NAME, connectPath: CONNECT_PATH }),
    { metrics: true, json: true },
  );
}

/**
 * The token function: the app API's JSON routes, and the Disconnect URL's page (a browser route,
 * unauthenticated, that may only ask Intuit through the rate-limited check).
 */
export function createTokenFunctionHandler(
  deps: TokenDependencies,
  telemetry: PowertoolsTelemetry,
  pages: RenderSettings,
): ApiHandler {
  const api = createApiHandler(deps, telemetry);
  const disconnectLanding = createDisconnectLandingHandler(deps, telemetry, pages);
  return (event, context) =>
    event.rawPath === ROUTES.disconnect.path ? disconnectLanding(event, context) : api(event, context);
}

export type RefresherHandler = (event: unknown, context: Context) => Promise<KeepAliveRunReport>;

/** The scheduled keep-alive run (EventBridge Scheduler in AWS, a timer in `npm start`). */
export function createRefresherHandler(
  deps: TokenDependencies,
  telemetry: PowertoolsTelemetry,
): RefresherHandler {
  const run = async (_event: unknown, context: Context): Promise<KeepAliveRunReport> => {
    const runtime = deps.runtime();
    const lifecycle = TokenLifecycle.of(runtime, deps);
    return runKeepAlive(
      { store: runtime.connections, lifecycle, telemetry: deps.telemetry, clock: deps.clock },
      { deadline: deadlineOf(context, FUNCTIONS.refresher.timeoutSeconds * 1000) },
    );
  };
  return middy(run)
    .use(injectLambdaContext(telemetry.logger, { resetKeys: true, logEvent: false }))
    .use(logMetrics(telemetry.metrics));
}

/**
 * GET /disconnect, the Disconnect URL registered at Intuit: always the "disconnected" page. A
 * `realmId` with it is only a hint (I3): the lifecycle asks Intuit, at most once per company per
 * hour, and only Intuit's refusal changes the connection.
 */
export function createDisconnectLandingHandler(
  deps: TokenDependencies,
  telemetry: PowertoolsTelemetry,
  pages: RenderSettings,
): ApiHandler {
  return apiHandler(
    telemetry,
    async (event, context) => {
      if (event.requestContext.http.method !== 'GET')
        return renderFlowResult({ kind: 'method-not-allowed' }, pages);
      // One well-formed id or none: anything else is ignored.
      const realmId = realmIdHintOf(event.rawQueryString ?? '');
      let check: string = 'no-realm';
      if (realmId !== undefined) {
        try {
          const runtime = deps.runtime();
          const lifecycle = TokenLifecycle.of(runtime, deps);
          check = await lifecycle.confirmDisconnect(
            realmId,
            deadlineOf(context, FUNCTIONS.api.timeoutSeconds * 1000),
          );
        } catch (error) {
          // The page is the same whatever happened; the check is retried by the next landing after the hour.
          check = `error:${error instanceof Error ? error.name : typeof error}`;
        }
      }
      deps.telemetry.record({ code: 'DISCONNECT_LANDING', fields: { realmId, check } });
      return renderFlowResult({ kind: 'notice', page: 'disconnected' }, pages);
    },
    () => pageContextOf(pages),
    { metrics: true },
  );
}
