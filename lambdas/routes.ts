/**
 * The route registry: every HTTP route, the Lambda entry that serves it, its timeout and what kind
 * of route it is. The CDK stack, the local server, the bundler and the README's route table all
 * read it, so a route exists in one place. Plain data: safe to bundle into any function.
 *
 * To add a route: add it here, give it an entry file under lambdas/ exporting `handler`, and a
 * factory in lambdas/handlers/factories.ts that the entry and the local server both use.
 */
import { CALLBACK_TIMEOUT_SECONDS } from './core/time-budget';

export type HandlerName = 'connect' | 'callback' | 'outcome';

export interface RouteSpec {
  /** CDK construct id of the function (PascalCase). */
  readonly id: string;
  readonly method: 'GET';
  /** API Gateway's route path; `{name}` is a path parameter. */
  readonly path: string;
  /** The entry file, relative to the project root. */
  readonly entry: string;
  /** The function's timeout; API Gateway's integration timeout is one second more (under 29 s). */
  readonly timeoutSeconds: number;
  /**
   * - browser: a page a user's browser opens; no authorizer can apply (A2/B1 protect it).
   * - api: JSON for the app's backend, behind IAM authorisation (H1).
   */
  readonly kind: 'browser' | 'api';
  /** One line for the README's route table. */
  readonly summary: string;
}

export const ROUTES: Readonly<Record<HandlerName, RouteSpec>> = {
  connect: {
    id: 'Connect',
    method: 'GET',
    path: '/connect',
    entry: 'lambdas/connect.ts',
    timeoutSeconds: 5,
    kind: 'browser',
    summary: 'starts a flow: 302 to Intuit with a flow cookie',
  },
  callback: {
    id: 'Callback',
    method: 'GET',
    path: '/callback',
    entry: 'lambdas/callback.ts',
    timeoutSeconds: CALLBACK_TIMEOUT_SECONDS,
    kind: 'browser',
    summary: "Intuit's redirect back: exchanges the code once, verifies the company, 303 to the outcome",
  },
  outcome: {
    id: 'Outcome',
    method: 'GET',
    path: '/outcome/{kind}',
    entry: 'lambdas/outcome.ts',
    timeoutSeconds: 5,
    kind: 'browser',
    summary: 'the outcome pages the callback redirects to',
  },
};

export const HANDLER_NAMES = Object.keys(ROUTES) as readonly HandlerName[];

/**
 * Matches a request path against the registry: the route and its path parameters, or undefined.
 * A parameter matches one non-empty segment.
 */
export function matchRoute(
  path: string,
):
  | { readonly name: HandlerName; readonly route: RouteSpec; readonly parameters: Record<string, string> }
  | undefined {
  for (const name of HANDLER_NAMES) {
    const route = ROUTES[name];
    const names: string[] = [];
    const pattern = route.path.replace(/\{([A-Za-z]+)\}/g, (_match, parameter: string) => {
      names.push(parameter);
      return '([^/]+)';
    });
    const match = new RegExp(`^${pattern}$`).exec(path);
    if (match === null) continue;
    const parameters: Record<string, string> = {};
    names.forEach((parameter, index) => (parameters[parameter] = match[index + 1] ?? ''));
    return { name, route, parameters };
  }
  return undefined;
}
