/**
 * The registry of functions and routes: every Lambda function (its entry, timeout and trigger) and
 * every HTTP route (method, path, the function that serves it, what kind of route it is). The CDK
 * stack, the local server, the bundler and the README's route table all read it, so a route exists
 * in one place. Plain data: safe to bundle into any function.
 *
 * To add a route: add it to ROUTES with the function that serves it. To add a function: add it to
 * FUNCTIONS, give it an entry file under lambdas/ exporting `handler`, and a factory in
 * lambdas/handlers/ that the entry and the local server both use.
 */
import { API_TIMEOUT_SECONDS, REFRESHER_TIMEOUT_SECONDS } from './core/token-budget';
import { CALLBACK_TIMEOUT_SECONDS } from './core/time-budget';

/** A batch of stream records: derivation is in memory, PutEvents a few calls of at most 3 s each. */
const LIFECYCLE_EVENTS_TIMEOUT_SECONDS = 30;
/** One POST to the app (at most 10 s) and one ChangeMessageVisibility call. */
export const WEBHOOKS_TIMEOUT_SECONDS = 15;

export type HandlerName = 'connect' | 'callback' | 'outcome' | 'api' | 'refresher' | 'events' | 'webhooks';

export interface FunctionSpec {
  /** CDK construct id of the function (PascalCase). */
  readonly id: string;
  /** The entry file, relative to the project root. */
  readonly entry: string;
  /** The function's timeout; an HTTP function's integration timeout is one second more (under 29 s). */
  readonly timeoutSeconds: number;
  /**
   * http: behind API Gateway routes; schedule: invoked by EventBridge Scheduler (a timer locally);
   * stream: reads the connections table's DynamoDB stream (a poller locally); queue: reads an SQS
   * queue (deployed only when its environment needs it).
   */
  readonly trigger: 'http' | 'schedule' | 'stream' | 'queue';
  /** One line for the README. */
  readonly summary: string;
}

export const FUNCTIONS: Readonly<Record<HandlerName, FunctionSpec>> = {
  connect: {
    id: 'Connect',
    entry: 'lambdas/connect.ts',
    timeoutSeconds: 5,
    trigger: 'http',
    summary: 'starts a flow',
  },
  callback: {
    id: 'Callback',
    entry: 'lambdas/callback.ts',
    timeoutSeconds: CALLBACK_TIMEOUT_SECONDS,
    trigger: 'http',
    summary: 'exchanges a code once, verifies the company, stores the connection',
  },
  outcome: {
    id: 'Outcome',
    entry: 'lambdas/outcome.ts',
    timeoutSeconds: 5,
    trigger: 'http',
    summary: 'renders the outcome pages',
  },
  api: {
    // Not `Api`: that is the HTTP API's construct id, whose logical ids (and so the redirect URI
    // registered at Intuit) must not change.
    id: 'TokenApi',
    entry: 'lambdas/api.ts',
    timeoutSeconds: API_TIMEOUT_SECONDS,
    trigger: 'http',
    summary:
      "the app's token API (access tokens refreshed single-flight, connections, disconnect) and the Disconnect URL's page",
  },
  refresher: {
    id: 'Refresher',
    entry: 'lambdas/refresher.ts',
    timeoutSeconds: REFRESHER_TIMEOUT_SECONDS,
    trigger: 'schedule',
    summary:
      'keep-alive: refreshes idle connections before their 100-day window closes; counts the ones that need a user',
  },
  events: {
    id: 'LifecycleEvents',
    entry: 'lambdas/events.ts',
    timeoutSeconds: LIFECYCLE_EVENTS_TIMEOUT_SECONDS,
    trigger: 'stream',
    summary:
      "reads the connections table's stream and publishes lifecycle events to the stack's EventBridge bus",
  },
  webhooks: {
    id: 'WebhookDelivery',
    entry: 'lambdas/webhooks.ts',
    timeoutSeconds: WEBHOOKS_TIMEOUT_SECONDS,
    trigger: 'queue',
    summary:
      "POSTs each lifecycle event, signed (Standard Webhooks), to the environment's `webhookUrl`; retried with backoff for hours (only with a `webhookUrl`)",
  },
};

export type HttpMethod = 'GET' | 'POST' | 'DELETE' | 'ANY';

export interface RouteSpec {
  readonly method: HttpMethod;
  /** API Gateway's route path; `{name}` is a path parameter, `{proxy+}` the rest of the path. */
  readonly path: string;
  /** The function that serves it. */
  readonly handler: HandlerName;
  /**
   * - browser: a page a user's browser opens; no authorizer can apply (A2/B1 protect it).
   * - api: JSON for the app's backend, behind IAM authorisation in AWS, a bearer key locally (H1).
   */
  readonly kind: 'browser' | 'api';
  /** One line for the README's route table. */
  readonly summary: string;
}

export type RouteName =
  | 'connect'
  | 'callback'
  | 'outcome'
  | 'reconnect'
  | 'disconnect'
  | 'accessToken'
  | 'getConnection'
  | 'listConnections'
  | 'deleteConnection'
  | 'apiFallback'
  | 'connectLinks'
  | 'verifyConnectResult';

export const ROUTES: Readonly<Record<RouteName, RouteSpec>> = {
  connect: {
    method: 'GET',
    path: '/connect',
    handler: 'connect',
    kind: 'browser',
    summary: 'starts a flow: 302 to Intuit with a flow cookie',
  },
  callback: {
    method: 'GET',
    path: '/callback',
    handler: 'callback',
    kind: 'browser',
    summary: "Intuit's redirect back: exchanges the code once, verifies the company, 303 to the outcome",
  },
  outcome: {
    method: 'GET',
    path: '/outcome/{kind}',
    handler: 'outcome',
    kind: 'browser',
    summary: 'the outcome pages the callback redirects to',
  },
  reconnect: {
    method: 'GET',
    path: '/reconnect',
    handler: 'connect',
    kind: 'browser',
    summary:
      "the Reconnect URL registered at Intuit: starts a flow, or sends the browser to the app's reconnect page when signed links are required",
  },
  disconnect: {
    method: 'GET',
    path: '/disconnect',
    // The token API's function: the check with Intuit is a refresh, and only it and the refresher
    // may open tokens (H4).
    handler: 'api',
    kind: 'browser',
    summary:
      'the Disconnect URL registered at Intuit: a "disconnected" page; never changes a connection on its own word',
  },
  accessToken: {
    method: 'POST',
    path: '/api/connections/{realmId}/access-token',
    handler: 'api',
    kind: 'api',
    summary: 'an access token valid for at least `minValidSeconds`, refreshed first if needed',
  },
  getConnection: {
    method: 'GET',
    path: '/api/connections/{realmId}',
    handler: 'api',
    kind: 'api',
    summary: "a connection's status and token times, never a token",
  },
  listConnections: {
    method: 'GET',
    path: '/api/connections',
    handler: 'api',
    kind: 'api',
    summary: "a tenant's connections (`?tenantId=`)",
  },
  deleteConnection: {
    method: 'DELETE',
    path: '/api/connections/{realmId}',
    handler: 'api',
    kind: 'api',
    summary: 'disconnects: deletes the tokens, keeps the record, revokes at Intuit (best effort)',
  },
  apiFallback: {
    method: 'ANY',
    path: '/api/{proxy+}',
    handler: 'api',
    kind: 'api',
    summary:
      "the app's token API (access tokens refreshed single-flight, connections, disconnect) and the Disconnect URL's page, which asks Intuit through the same refresh",
  },
  connectLinks: {
    method: 'POST',
    path: '/api/connect-links',
    handler: 'api',
    kind: 'api',
    summary: 'a signed, single-use /connect link for a tenant (`{"tenantId", "expiresInSeconds"?}`)',
  },
  verifyConnectResult: {
    method: 'POST',
    path: '/api/connect-results/verify',
    handler: 'api',
    kind: 'api',
    summary: "whether a query the app's success or failure URL received was signed by the connector",
  },
};

export const HANDLER_NAMES = Object.keys(FUNCTIONS) as readonly HandlerName[];
export const ROUTE_NAMES = Object.keys(ROUTES) as readonly RouteName[];

/** Names of the functions API Gateway invokes. */
export const HTTP_HANDLER_NAMES = HANDLER_NAMES.filter((name) => FUNCTIONS[name].trigger === 'http');

/** The registry's path as a pattern and its parameter names. */
function patternOf(route: RouteSpec): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = route.path.replace(/\{([A-Za-z]+)(\+?)\}/g, (_match, parameter: string, greedy: string) => {
    names.push(parameter);
    return greedy === '+' ? '(.+)' : '([^/]+)';
  });
  return { pattern: new RegExp(`^${source}$`), names };
}

export interface RouteMatch {
  readonly name: RouteName;
  readonly route: RouteSpec;
  readonly parameters: Record<string, string>;
}

/**
 * Matches a request against the registry as API Gateway does: the route whose path and method
 * match, the most specific path first (a greedy `{proxy+}` route last). Without a method, the
 * first route whose path matches. A parameter matches one non-empty segment.
 */
export function matchRoute(path: string, method?: string): RouteMatch | undefined {
  const candidates = ROUTE_NAMES.map((name) => ({ name, route: ROUTES[name] })).sort(
    (a, b) => Number(a.route.path.includes('+}')) - Number(b.route.path.includes('+}')),
  );
  for (const { name, route } of candidates) {
    if (method !== undefined && route.method !== 'ANY' && route.method !== method.toUpperCase()) continue;
    const { pattern, names } = patternOf(route);
    const match = pattern.exec(path);
    if (match === null) continue;
    const parameters: Record<string, string> = {};
    names.forEach((parameter, index) => (parameters[parameter] = match[index + 1] ?? ''));
    return { name, route, parameters };
  }
  return undefined;
}
