/**
 * The edge between API Gateway HTTP API (payload v2) and the flows: event in, HttpResponse out,
 * middy with Powertools' middlewares around it. Never `logEvent`: the event holds the code and
 * the cookies (F2).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { HttpResponse } from './web/http-responses';
import { pageResponse } from './web/http-responses';
import { newReference } from '../core/flow-identifiers';
import { apiError, temporarilyUnavailable } from './api/json-responses';
import type { PageContext } from './web/pages';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export function toApiGatewayResult(response: HttpResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: response.statusCode,
    headers: { ...response.headers },
    ...(response.cookies !== undefined ? { cookies: [...response.cookies] } : {}),
    body: response.body,
  };
}

/**
 * Wraps a flow as a Lambda handler. An unexpected exception becomes a generic page with a
 * reference and one log line naming only the error's class (E3, F2), never API Gateway's bare 500.
 */
export function apiHandler(
  telemetry: PowertoolsTelemetry,
  flow: (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResponse>,
  fallbackPage: () => PageContext,
  options: {
    readonly metrics: boolean;
    /**
     * What the browser gets if the invocation is about to time out (the flows plan within their
     * deadline, so this is the last resort): the callback's self-refreshing "finishing" page lets
     * replays converge on the outcome. @default 'try-again'
     */
    readonly timeoutPage?: 'finishing' | 'try-again';
    /** The app API: its last-resort answers are JSON, not pages. @default false */
    readonly json?: boolean;
  },
): ApiHandler {
  const base = async (
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      return toApiGatewayResult(await flow(event, context));
    } catch (error) {
      const reference = newReference();
      telemetry.record({
        code: 'UNEXPECTED_ERROR',
        fields: { errorName: error instanceof Error ? error.name : typeof error, reference },
      });
      return toApiGatewayResult(
        options.json === true
          ? apiError(500, 'internal_error', 'Something went wrong; try again.', { reference })
          : pageResponse(500, 'try-again', { ...fallbackPage(), reference }, true),
      );
    }
  };
  const timeoutPage = options.timeoutPage ?? 'try-again';
  const wrapped = middy(base, {
    // A real page (E2, invariant 6) half a second before Lambda would cut the invocation off.
    timeoutEarlyInMillis: 500,
    timeoutEarlyResponse: () => {
      if (options.json === true) {
        telemetry.record({ code: 'INVOCATION_TIMEOUT', message: 'Invocation about to time out; 503 served' });
        return toApiGatewayResult(temporarilyUnavailable(1, 'The connector ran out of time; try again.'));
      }
      telemetry.record({
        code: 'INVOCATION_TIMEOUT',
        message: `Invocation about to time out; ${timeoutPage} page served`,
      });
      return toApiGatewayResult(
        pageResponse(timeoutPage === 'finishing' ? 200 : 503, timeoutPage, fallbackPage(), true),
      );
    },
    // logEvent pinned off in code (F2): POWERTOOLS_LOGGER_LOG_EVENT=true must not log codes and cookies.
  }).use(injectLambdaContext(telemetry.logger, { resetKeys: true, logEvent: false }));
  return options.metrics ? wrapped.use(logMetrics(telemetry.metrics)) : wrapped;
}

/** Time kept back from the Lambda's remaining time, for the response to get out. */
const DEADLINE_SAFETY_MS = 1_000;

/** Request fields the flows use; nothing else of the event is read. */
export function requestOf(
  event: APIGatewayProxyEventV2,
  context: Context,
): { method: string; rawQuery: string; cookies: readonly string[]; deadline?: number } {
  const remaining =
    typeof context.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
  return {
    method: event.requestContext.http.method,
    rawQuery: event.rawQueryString ?? '',
    cookies: event.cookies ?? [],
    ...(remaining !== undefined && remaining > 0
      ? { deadline: Date.now() + remaining - DEADLINE_SAFETY_MS }
      : {}),
  };
}

/** The authenticated caller API Gateway's IAM authoriser put on the event (the local server does the same). */
export function iamCallerOf(event: APIGatewayProxyEventV2): string | undefined {
  const authorizer = (event.requestContext as { authorizer?: { iam?: { userArn?: unknown } } }).authorizer;
  const arn = authorizer?.iam?.userArn;
  return typeof arn === 'string' && arn !== '' ? arn : undefined;
}

/** The body as text, whether API Gateway passed it as is or base64-encoded. */
export function bodyOf(event: APIGatewayProxyEventV2): string | undefined {
  if (event.body === undefined) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** The remaining invocation time as an epoch-ms deadline, with a second kept for the answer. */
export function deadlineOf(context: Context, fallbackMs: number): number {
  const remaining =
    typeof context.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
  return (
    Date.now() + (remaining !== undefined && remaining > 0 ? remaining : fallbackMs) - DEADLINE_SAFETY_MS
  );
}
