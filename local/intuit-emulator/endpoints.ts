/**
 * The emulator's endpoints: each turns one HTTP request into a call on the OAuth model, applies the
 * armed fault's effect on the wire, writes the answer and says what to log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { URL, URLSearchParams } from 'node:url';
import type { FaultSwitches } from './faults';
import { authenticationFault, authorizationFault } from './intuit-errors';
import { REALM_ID_PATTERN, sha256Hex } from './model';
import type { JsonAnswer, OAuthModel, RevocationAnswer } from './model';
import { renderConsentPage, renderErrorPage } from './pages';
import type { CompanyInfoRequestRecord, RevocationRequestRecord, TokenRequestRecord } from './records';
import {
  allowMethod,
  BodyTooLargeError,
  parseRevokeToken,
  readBody,
  redirectWith,
  sendEmpty,
  sendHtml,
  sendJson,
} from './wire';

/** What one request contributes to the log line: the status (or why there is none) and an outcome. */
export type LogResult = [status: number | 'no-response', detail: string];

/** What the endpoints share with the server that routes to them. */
export interface EndpointContext {
  readonly model: OAuthModel;
  readonly faults: FaultSwitches;
  /** The app name the consent page shows for a client registered without one. */
  readonly appName: string | undefined;
  /** The emulator's own origin, against which request paths are parsed. */
  readonly url: string;
  /** A delay that close() cancels, so a latency fault never outlives the server. */
  sleep(ms: number): Promise<void>;
}

/** What the consent page calls an app registered without a name; never its client id. */
const UNNAMED_APP = 'An app';

/** Answers, without redirecting, a client or redirect_uri the app never registered. */
function refuseUnregistered(
  ctx: EndpointContext,
  res: ServerResponse,
  clientId: string,
  redirectUri: string,
): LogResult | undefined {
  const refusal = ctx.model.redirectRefusal(clientId, redirectUri);
  if (refusal === null) return undefined;
  sendHtml(res, 400, renderErrorPage(refusal));
  return [400, 'unregistered_client_or_redirect_uri'];
}

export function handleAuthorize(ctx: EndpointContext, req: IncomingMessage, res: ServerResponse): LogResult {
  const query = new URL(req.url ?? '/', ctx.url).searchParams;
  const clientId = query.get('client_id') ?? '';
  const redirectUri = query.get('redirect_uri') ?? '';
  const state = query.get('state') ?? '';
  const scope = query.get('scope') ?? '';
  const refused = refuseUnregistered(ctx, res, clientId, redirectUri);
  if (refused !== undefined) return refused;
  const responseType = query.get('response_type');
  if (responseType !== 'code') {
    const error = responseType ? 'unsupported_response_type' : 'invalid_request';
    redirectWith(res, redirectUri, { error, state });
    return [302, error];
  }
  if (scope.trim() === '') {
    redirectWith(res, redirectUri, { error: 'invalid_request', state });
    return [302, 'invalid_request'];
  }
  sendHtml(
    res,
    200,
    renderConsentPage({
      appName: ctx.model.appNameOf(clientId) ?? ctx.appName ?? UNNAMED_APP,
      clientId,
      redirectUri,
      state,
      scope,
      companies: ctx.model.companies,
      defaultRealmId: ctx.model.defaultRealmId,
    }),
  );
  return [200, 'consent_page'];
}

export function handleDecision(ctx: EndpointContext, body: string, res: ServerResponse): LogResult {
  const form = new URLSearchParams(body);
  const clientId = form.get('client_id') ?? '';
  const redirectUri = form.get('redirect_uri') ?? '';
  const state = form.get('state') ?? '';
  const refused = refuseUnregistered(ctx, res, clientId, redirectUri);
  if (refused !== undefined) return refused;
  const decision = form.get('decision');
  if (decision === 'deny') {
    redirectWith(res, redirectUri, { error: 'access_denied', state });
    return [302, 'access_denied'];
  }
  if (decision !== 'allow') {
    sendHtml(res, 400, renderErrorPage('Choose Connect or Cancel.'));
    return [400, 'invalid_decision'];
  }
  const realmId = form.get('realm_id') ?? ctx.model.defaultRealmId;
  if (!ctx.model.companies.has(realmId)) {
    sendHtml(res, 400, renderErrorPage('The chosen company (realm_id) is unknown.'));
    return [400, 'unknown_realm'];
  }
  if ((form.get('scope') ?? '').trim() === '') {
    redirectWith(res, redirectUri, { error: 'invalid_request', state });
    return [302, 'invalid_request'];
  }
  const code = ctx.model.mintCode(clientId, redirectUri, realmId);
  redirectWith(res, redirectUri, { code, state, realmId });
  return [302, `code_issued code_sha256=${sha256Hex(code).slice(0, 8)}`];
}

/** Reads its own body, after recording, so that even a wrong method leaves a token request record. */
export async function handleToken(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<LogResult> {
  const record: TokenRequestRecord = { grantType: '', at: ctx.model.now(), status: 0, outcome: 'pending' };
  const finish = (status: number, outcome: string): LogResult => {
    record.status = status;
    record.outcome = outcome;
    const hash = record.codeHash ? ` code_sha256=${record.codeHash.slice(0, 8)}` : '';
    return [status === 0 ? 'no-response' : status, `grant=${record.grantType || '-'}${hash} ${outcome}`];
  };

  if (req.method !== 'POST') {
    ctx.model.records.addTokenRequest(record);
    allowMethod(req, res, 'POST');
    return finish(405, 'method_not_allowed');
  }
  const form = new URLSearchParams(await readBody(req));
  record.grantType = form.get('grant_type') ?? '';
  const code = form.get('code');
  if (code) record.codeHash = sha256Hex(code);
  ctx.model.records.addTokenRequest(record);

  const judge = (): JsonAnswer =>
    ctx.model.tokenRequest({
      authorization: req.headers.authorization,
      withHardCap: req.headers['x-include-refresh-token-hard-expires-in'] === 'true',
      form,
    });
  const fault = ctx.faults.takeTokenFault(record.grantType);
  switch (fault?.mode) {
    case undefined:
    case 'none': {
      const result = judge();
      sendJson(res, result.status, result.body);
      return finish(result.status, result.outcome);
    }
    case 'latency': {
      await ctx.sleep(fault.latencyMs);
      const result = judge();
      sendJson(res, result.status, result.body);
      return finish(result.status, result.outcome);
    }
    // Server-side failures that never reach the code ledger, so the code stays exchangeable.
    case 'status500':
      sendHtml(res, 500, renderErrorPage('Internal Server Error'));
      return finish(500, 'fault:status500');
    case 'status503':
      sendHtml(res, 503, renderErrorPage('Service Unavailable'));
      return finish(503, 'fault:status503');
    case 'status429':
      res.setHeader('Retry-After', '1');
      sendJson(res, 429, { error: 'throttled', error_description: 'Too many requests' });
      return finish(429, 'fault:status429');
    case 'invalid-client':
      sendJson(res, 401, { error: 'invalid_client' });
      return finish(401, 'fault:invalid-client');
    case 'hang': {
      // The exchange happens; only the answer is lost. close() destroys the socket.
      const result = judge();
      return finish(0, `hang:${result.outcome}`);
    }
    case 'reset-after-consume': {
      const result = judge();
      res.destroy();
      return finish(0, `reset-after-consume:${result.outcome}`);
    }
    case 'malformed': {
      const result = judge();
      sendJson(res, 200, { access_token: 123 });
      return finish(200, `malformed:${result.outcome}`);
    }
  }
}

/** Records before the method check, so that every request to the endpoint is counted. */
export async function handleRevoke(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<LogResult> {
  const record: RevocationRequestRecord = { at: ctx.model.now(), status: 0, outcome: 'pending' };
  ctx.model.records.addRevocationRequest(record);
  const finish = (status: number, outcome: string): LogResult => {
    record.status = status;
    record.outcome = outcome;
    return [status === 0 ? 'no-response' : status, outcome];
  };
  if (!allowMethod(req, res, 'POST')) return finish(405, 'method_not_allowed');
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    // The server answers (413 or 500); the record says so rather than staying pending.
    finish(err instanceof BodyTooLargeError ? 413 : 500, 'unreadable_body');
    throw err;
  }

  const judge = (): RevocationAnswer =>
    ctx.model.revoke(req.headers.authorization, parseRevokeToken(req.headers['content-type'] ?? '', body));
  const answer = (): LogResult => {
    const result = judge();
    if (result.body === null) sendEmpty(res, result.status);
    else sendJson(res, result.status, result.body);
    return finish(result.status, result.outcome);
  };
  const fault = ctx.faults.takeRevokeFault();
  switch (fault?.mode) {
    case undefined:
    case 'none':
      return answer();
    case 'latency':
      await ctx.sleep(fault.latencyMs);
      return answer();
    case 'status500':
      sendHtml(res, 500, renderErrorPage('Internal Server Error'));
      return finish(500, 'fault:status500');
    case 'status429':
      res.setHeader('Retry-After', '1');
      sendJson(res, 429, { error: 'throttled', error_description: 'Too many requests' });
      return finish(429, 'fault:status429');
    case 'status400-empty':
      sendEmpty(res, 400);
      return finish(400, 'fault:status400-empty');
    case 'hang': {
      // The revocation happens; only the answer is lost. close() destroys the socket.
      const result = judge();
      return finish(0, `hang:${result.outcome}`);
    }
  }
}

export async function handleCompanyInfo(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  realmId: string,
  pathRealmId: string,
): Promise<LogResult> {
  const minorVersion = new URL(req.url ?? '/', ctx.url).searchParams.get('minorversion');
  const record: CompanyInfoRequestRecord = {
    realmId,
    ...(minorVersion === null ? {} : { minorVersion }),
    at: ctx.model.now(),
    status: 0,
    outcome: 'pending',
  };
  ctx.model.records.addCompanyInfoRequest(record);
  const finish = (status: number, outcome: string): LogResult => {
    record.status = status;
    record.outcome = outcome;
    // The path is the caller's text; only a well-formed realm id is repeated in the detail.
    const realm = REALM_ID_PATTERN.test(realmId) ? realmId : 'invalid';
    return [status === 0 ? 'no-response' : status, `realm=${realm} ${outcome}`];
  };
  if (!allowMethod(req, res, 'GET')) return finish(405, 'method_not_allowed');

  const answer = (): LogResult => {
    const result = ctx.model.companyInfo(req.headers.authorization, realmId, pathRealmId);
    if (result.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    sendJson(res, result.status, result.body);
    return finish(result.status, result.outcome);
  };
  const fault = ctx.faults.takeCompanyInfoFault();
  switch (fault?.mode) {
    case undefined:
    case 'none':
      return answer();
    case 'latency':
      await ctx.sleep(fault.latencyMs);
      return answer();
    case 'status401':
      res.setHeader('WWW-Authenticate', 'Bearer');
      sendJson(res, 401, authenticationFault(ctx.model.now()));
      return finish(401, 'fault:status401');
    case 'status403':
      sendJson(res, 403, authorizationFault(ctx.model.now()));
      return finish(403, 'fault:status403');
    case 'wrong-cluster':
      sendJson(res, 403, {
        Fault: {
          Error: [
            {
              Message: 'message=Accessing Wrong Cluster; errorCode=007001; statusCode=403',
              code: '007001',
            },
          ],
          type: 'SERVICE',
        },
      });
      return finish(403, 'fault:wrong-cluster');
    case 'status500':
      sendHtml(res, 500, renderErrorPage('Internal Server Error'));
      return finish(500, 'fault:status500');
    case 'status503':
      sendHtml(res, 503, renderErrorPage('Service Unavailable'));
      return finish(503, 'fault:status503');
    case 'status429':
      res.setHeader('Retry-After', '1');
      sendJson(res, 429, { fault: { error: [{ message: 'ThrottleExceeded', code: '003001' }] } });
      return finish(429, 'fault:status429');
    case 'hang':
      // close() destroys the socket.
      return finish(0, 'fault:hang');
    case 'reset':
      res.destroy();
      return finish(0, 'fault:reset');
  }
}
