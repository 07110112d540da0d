/**
 * The app API and refresher handlers, built from their dependencies like the browser routes'
 * (factories.ts). Apart from that file so the connect bundle loads none of the token lifecycle.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';
import type { KeepAliveRunReport } from '../core/keep-alive';
import { runKeepAlive } from '../core/keep-alive';
import type { TokenDependencies } from '../core/runtime';
import { TokenLifecycle } from '../core/token-lifecycle';
import { FUNCTIONS } from '../routes';
import { handleApiRequest } from './api/app-api';
import type { ApiHandler } from './api-gateway';
import { apiHandler, bodyOf, deadlineOf, iamCallerOf } from './api-gateway';
import { DEFAULT_APP_NAME } from '../core/config';
import { CONNECT_PATH } from './web/paths';

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

export type RefresherHandler = (event: unknown, context: Context) => Promise<KeepAliveRunReport>;

/** The scheduled keep-alive run (EventBridge Scheduler in AWS, a timer in `npm start`). */
export function createRefresherHandler(
  deps: TokenDependencies,
  telemetry: PowertoolsTelemetry,
): RefresherHandler {
  const run = async (_event: unknown, context: Context): Promise<KeepAliveRunReport> => {
    const runtime = deps.runtime();
    const lifecycle = new TokenLifecycle({
      store: runtime.connections,
      tokenEndpoint: runtime.tokenEndpoint,
      credentials: runtime.credentials,
      telemetry: deps.telemetry,
      clock: deps.clock,
      sleep: deps.sleep,
      newHolderId: deps.newHolderId ?? randomUUID,
    });
    return runKeepAlive(
      { store: runtime.connections, lifecycle, telemetry: deps.telemetry, clock: deps.clock },
      { deadline: deadlineOf(context, FUNCTIONS.refresher.timeoutSeconds * 1000) },
    );
  };
  return middy(run)
    .use(injectLambdaContext(telemetry.logger, { resetKeys: true, logEvent: false }))
    .use(logMetrics(telemetry.metrics));
}
