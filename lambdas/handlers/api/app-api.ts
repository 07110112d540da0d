/**
 * The app API (README "App API"): the routes of the registry whose kind is `api`, served by one
 * function. Parses and checks the request, calls the token lifecycle, maps each result to exactly
 * one status. Authentication happened before this (IAM in AWS, the bearer key locally, H1); the
 * caller's identity arrives only to be logged.
 */
import {
  ConfigError,
  CredentialsUnavailableError,
  InvalidCursorError,
  StorageUnavailableError,
} from '../../core/errors';
import { CipherUnavailableError, TokenDecryptionError } from '../../core/token-cipher';
import type { TokenDependencies, TokenRuntime } from '../../core/runtime';
import { MIN_VALID_SECONDS } from '../../core/token-budget';
import { TENANT_ID_PATTERN } from '../../core/connect-links';
import { REALM_ID_PATTERN } from '../../core/flow-identifiers';
import { appReconnectTarget } from '../../core/reconnect-flow';
import { TokenLifecycle } from '../../core/token-lifecycle';
import type { RouteName } from '../../routes';
import { matchRoute, ROUTES } from '../../routes';
import type { HttpResponse } from '../web/http-responses';
import { CONNECT_PATH } from '../web/paths';
import { createConnectLink, verifyConnectResult } from './connect-links';
import { disconnect } from './disconnect';
import { apiError, jsonResponse, temporarilyUnavailable } from './json-responses';
import { accessTokenView, connectionView } from './views';

/** What the API reads of a request; nothing else of the event is used. */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly body?: string;
  /** The authenticated caller (an IAM ARN, or `local`); absent when no authoriser ran. */
  readonly caller?: string;
  /** Epoch ms by which the answer must be on its way. */
  readonly deadline: number;
}

/** The app's tenant ids (signed connect links use the same rule). */
const TENANT_ID = TENANT_ID_PATTERN;
/** The largest body the API reads: `{"minValidSeconds": N}` is a few dozen bytes. */
const MAX_BODY_BYTES = 4096;
const LIST_LIMIT = 100;

export async function handleApiRequest(request: ApiRequest, deps: TokenDependencies): Promise<HttpResponse> {
  const { telemetry } = deps;
  const refuse = (
    status: number,
    code: Parameters<typeof apiError>[1],
    message: string,
    headers?: Record<string, string>,
  ) => {
    telemetry.record({ code: 'API_REQUEST_REFUSED', fields: { status, error: code } });
    return apiError(status, code, message, {}, headers);
  };
  if (request.caller === undefined) return refuse(401, 'unauthorized', 'The request is not authenticated.');
  const matched = matchRoute(request.path, request.method);
  if (matched === undefined || matched.route.kind !== 'api' || matched.name === 'apiFallback') {
    const allowed = allowedMethods(request.path);
    return allowed.length > 0
      ? refuse(405, 'method_not_allowed', `Use ${allowed.join(' or ')} on this path.`, {
          Allow: allowed.join(', '),
        })
      : refuse(404, 'not_found', 'There is no such route under /api/.');
  }
  const realmId = matched.parameters['realmId'];
  if (realmId !== undefined && !REALM_ID_PATTERN.test(safeDecode(realmId)))
    return refuse(400, 'invalid_request', 'realmId must be the QuickBooks company id (digits only).');

  let runtime: TokenRuntime;
  try {
    runtime = deps.runtime();
  } catch (error) {
    return failure(error, deps);
  }
  try {
    return await serve(
      matched.name,
      { ...request, realmId: realmId === undefined ? '' : safeDecode(realmId) },
      runtime,
      deps,
      refuse,
    );
  } catch (error) {
    return failure(error, deps);
  }
}

type Refuse = (status: number, code: Parameters<typeof apiError>[1], message: string) => HttpResponse;

async function serve(
  name: RouteName,
  request: ApiRequest & { readonly realmId: string },
  runtime: TokenRuntime,
  deps: TokenDependencies,
  refuse: Refuse,
): Promise<HttpResponse> {
  const { realmId } = request;
  switch (name) {
    case 'accessToken': {
      const minValidSeconds = parseMinValid(request.body);
      if (typeof minValidSeconds === 'string') return refuse(400, 'invalid_request', minValidSeconds);
      const lifecycle = TokenLifecycle.of(runtime, deps);
      const result = await lifecycle.accessToken(realmId, minValidSeconds * 1000, request.deadline);
      switch (result.kind) {
        case 'token':
          deps.telemetry.record({
            code: 'TOKEN_SERVED',
            fields: {
              realmId,
              caller: request.caller,
              refreshed: result.refreshed,
              expiresAt: new Date(result.tokens.accessTokenExpiresAt).toISOString(),
            },
          });
          return jsonResponse(200, accessTokenView(result.connection, result.tokens, runtime.config));
        case 'not-found':
          return apiError(404, 'connection_not_found', 'No connection is stored for this company.');
        case 'reconnect-required':
          return apiError(409, 'reconnect_required', 'The company must be connected again by its user.', {
            reason: result.reason,
            reconnectUrl: reconnectUrlOf(runtime, realmId),
          });
        case 'unavailable':
          return temporarilyUnavailable(
            result.retryAfterSeconds,
            'A refresh was needed and Intuit could not be asked or did not answer clearly; the stored tokens are kept.',
          );
      }
      break;
    }
    case 'getConnection': {
      const connection = await runtime.connections.get(realmId, { tokens: false });
      return connection === undefined
        ? apiError(404, 'connection_not_found', 'No connection is stored for this company.')
        : jsonResponse(200, connectionView(connection));
    }
    case 'listConnections': {
      const query = new URLSearchParams(request.rawQuery);
      const tenantId = query.getAll('tenantId');
      const cursor = query.getAll('cursor');
      if (tenantId.length !== 1 || !TENANT_ID.test(tenantId[0] ?? ''))
        return refuse(
          400,
          'invalid_request',
          'tenantId is required: 1 to 128 characters of A-Z a-z 0-9 . _ : @ -.',
        );
      if (cursor.length > 1) return refuse(400, 'invalid_request', 'Give at most one cursor.');
      const page = await runtime.connections.listByTenant(tenantId[0] ?? '', {
        limit: LIST_LIMIT,
        ...(cursor[0] !== undefined ? { cursor: cursor[0] } : {}),
      });
      return jsonResponse(200, {
        connections: page.items.map(connectionView),
        ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
      });
    }
    case 'deleteConnection':
      return disconnect(realmId, runtime, deps);
    case 'connectLinks': {
      const answer = await createConnectLink(request.body, request.caller, runtime, deps);
      return 'invalid' in answer ? refuse(400, 'invalid_request', answer.invalid) : answer;
    }
    case 'verifyConnectResult': {
      const answer = await verifyConnectResult(request.body, runtime, deps);
      return 'invalid' in answer ? refuse(400, 'invalid_request', answer.invalid) : answer;
    }
    case 'connect':
    case 'callback':
    case 'outcome':
    case 'reconnect':
    case 'disconnect':
    case 'apiFallback':
      break;
  }
  return refuse(404, 'not_found', 'There is no such route under /api/.');
}

/** Where the company's user starts a new flow: this deployment's /connect (its redirect URI's host). */
export function reconnectUrlOf(runtime: TokenRuntime, realmId: string): string {
  // With signed links only the app can start a flow for its signed-in user: its own reconnect page.
  const { config } = runtime;
  return appReconnectTarget(config, realmId) ?? `${new URL(config.redirectUri).origin}${CONNECT_PATH}`;
}

/** `{"minValidSeconds": N}`, or nothing: the default. Returns the problem as a sentence. */
function parseMinValid(body: string | undefined): number | string {
  if (body === undefined || body.trim() === '') return MIN_VALID_SECONDS.default;
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return 'The body is too large.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'The body is not valid JSON.';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return 'The body must be a JSON object.';
  const unknown = Object.keys(parsed).filter((key) => key !== 'minValidSeconds');
  if (unknown.length > 0) return `Unknown field ${JSON.stringify(unknown[0])}; only minValidSeconds is read.`;
  const value = (parsed as Record<string, unknown>)['minValidSeconds'];
  if (value === undefined) return MIN_VALID_SECONDS.default;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < MIN_VALID_SECONDS.min ||
    value > MIN_VALID_SECONDS.max
  )
    return `minValidSeconds must be an integer from ${MIN_VALID_SECONDS.min} to ${MIN_VALID_SECONDS.max}.`;
  return value;
}

/** Methods the registry serves on this path (for a 405's Allow header). */
function allowedMethods(path: string): string[] {
  return Object.values(ROUTES)
    .filter(
      (route) =>
        route.kind === 'api' && route.method !== 'ANY' && matchRoute(path, route.method)?.route === route,
    )
    .map((route) => route.method);
}

/** Thrown failures, each to one status and one log code; nothing of the error reaches the body. */
function failure(error: unknown, deps: TokenDependencies): HttpResponse {
  const { telemetry } = deps;
  if (error instanceof InvalidCursorError) {
    telemetry.record({ code: 'API_REQUEST_REFUSED', fields: { status: 400, error: 'invalid_request' } });
    return apiError(400, 'invalid_request', 'The cursor is not one this service issued.');
  }
  if (error instanceof StorageUnavailableError) {
    telemetry.record({
      code: 'STORAGE_UNAVAILABLE',
      fields: { operation: error.operation, errorName: error.awsErrorName },
    });
    return temporarilyUnavailable(1, 'Storage did not answer; try again.');
  }
  if (error instanceof CipherUnavailableError) {
    telemetry.record({ code: 'KEY_SERVICE_UNAVAILABLE', fields: { operation: error.operation } });
    return temporarilyUnavailable(2, 'The key service did not answer; try again.');
  }
  if (error instanceof CredentialsUnavailableError) {
    telemetry.record({ code: 'SECRETS_UNAVAILABLE', fields: { errorName: error.awsErrorName } });
    return temporarilyUnavailable(5, 'The client credentials could not be read; try again.');
  }
  if (error instanceof TokenDecryptionError) {
    telemetry.record({ code: 'TOKEN_DECRYPT_FAILED', fields: { realmId: error.realmId } });
    return apiError(
      500,
      'internal_error',
      'The stored tokens for this company cannot be read; operators are alerted.',
    );
  }
  if (error instanceof ConfigError) {
    telemetry.record({ code: 'CONFIG_INVALID', fields: { problems: error.problems.join('; ') } });
    return apiError(500, 'not_configured', 'The connector is not configured yet; operators are alerted.');
  }
  telemetry.record({
    code: 'UNEXPECTED_ERROR',
    message: 'Unexpected failure; JSON error served',
    fields: { errorName: error instanceof Error ? error.name : typeof error },
  });
  return apiError(500, 'internal_error', 'Something went wrong; try again.');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
