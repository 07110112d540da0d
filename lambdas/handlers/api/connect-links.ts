/**
 * POST /api/connect-links and POST /api/connect-results/verify (README "Tenants and signed connect
 * links"): the app mints a single-use link for its signed-in user, and asks whether the query its
 * success or failure URL received is the connector's. The key never leaves the connector (I1).
 */
import {
  CONNECT_LINK_LIFETIME_SECONDS,
  mintConnectLink,
  TENANT_ID_PATTERN,
  verifyRedirectQuery,
} from '../../core/connect-links';
import { ConfigError } from '../../core/errors';
import type { TokenDependencies, TokenRuntime } from '../../core/runtime';
import type { HttpResponse } from '../web/http-responses';
import { CONNECT_PATH } from '../web/paths';
import { jsonResponse } from './json-responses';

/** The largest body these routes read; a redirect query is well under 2 KB. */
const MAX_BODY_BYTES = 8192;

/** Answers the request, or says what is wrong with it in one sentence (a 400 invalid_request). */
export type ApiAnswer = HttpResponse | { readonly invalid: string };

export async function createConnectLink(
  body: string | undefined,
  caller: string | undefined,
  runtime: TokenRuntime,
  deps: TokenDependencies,
): Promise<ApiAnswer> {
  const parsed = jsonObject(body, ['tenantId', 'expiresInSeconds']);
  if ('invalid' in parsed) return parsed;
  const tenantId = parsed.value['tenantId'];
  if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId))
    return { invalid: 'tenantId is required: 1 to 128 characters of A-Z a-z 0-9 . _ : @ -.' };
  const lifetime = parsed.value['expiresInSeconds'] ?? CONNECT_LINK_LIFETIME_SECONDS.default;
  const { min, max } = CONNECT_LINK_LIFETIME_SECONDS;
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < min || lifetime > max)
    return { invalid: `expiresInSeconds must be an integer from ${min} to ${max}.` };
  const keys = await keysOf(runtime);
  const exp = Math.floor(deps.clock() / 1000) + lifetime;
  const connectUrl = `${new URL(runtime.config.redirectUri).origin}${CONNECT_PATH}`;
  const url = mintConnectLink(keys, connectUrl, tenantId, exp);
  const expiresAt = new Date(exp * 1000).toISOString();
  deps.telemetry.record({ code: 'CONNECT_LINK_ISSUED', fields: { tenantId, caller, expiresAt } });
  return jsonResponse(201, { url, expiresAt });
}

export async function verifyConnectResult(
  body: string | undefined,
  runtime: TokenRuntime,
  deps: TokenDependencies,
): Promise<ApiAnswer> {
  const parsed = jsonObject(body, ['query']);
  if ('invalid' in parsed) return parsed;
  const query = parsed.value['query'];
  if (typeof query !== 'string' || query.length > 4096)
    return { invalid: 'query is required: the query string the app received, at most 4096 characters.' };
  const keys = await keysOf(runtime);
  const verdict = verifyRedirectQuery(keys, query, deps.clock());
  if (!verdict.valid) {
    deps.telemetry.record({ code: 'CONNECT_RESULT_REJECTED', fields: {} });
    return jsonResponse(200, { valid: false });
  }
  const { claims } = verdict;
  return jsonResponse(200, {
    valid: true,
    outcome: claims.outcome,
    ...(claims.realmId !== undefined ? { realmId: claims.realmId } : {}),
    ...(claims.tenantId !== undefined ? { tenantId: claims.tenantId } : {}),
    ...(claims.ref !== undefined ? { ref: claims.ref } : {}),
  });
}

function keysOf(runtime: TokenRuntime) {
  if (runtime.connectLinkKeys === undefined)
    throw new ConfigError(['CONNECT_LINK_KEY_SECRET_ID is not set: no connect-link key']);
  return runtime.connectLinkKeys.get();
}

function jsonObject(
  body: string | undefined,
  fields: readonly string[],
): { readonly value: Record<string, unknown> } | { readonly invalid: string } {
  if (body === undefined || body.trim() === '') return { invalid: 'The body must be a JSON object.' };
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return { invalid: 'The body is too large.' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { invalid: 'The body is not valid JSON.' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { invalid: 'The body must be a JSON object.' };
  const unknown = Object.keys(parsed).filter((key) => !fields.includes(key));
  if (unknown.length > 0)
    return { invalid: `Unknown field ${JSON.stringify(unknown[0])}; only ${fields.join(' and ')} are read.` };
  return { value: parsed as Record<string, unknown> };
}
