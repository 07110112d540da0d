/**
 * GET /reconnect, the Reconnect URL registered at Intuit (mandatory since January 2026). What Intuit
 * sends there is undocumented, so it works with no parameters and treats a `realmId` as a hint
 * only. Without signed connect links it starts a flow like /connect; with them (A5) only the app can
 * mint a link for its signed-in user, so the browser goes to the app's reconnect page, or is told to
 * reconnect from the app.
 */
import type { ServiceConfig } from './config';
import { handleConnect } from './connect-flow';
import { realmIdHintOf } from './flow-identifiers';
import type { FlowResult } from './flow-results';
import type { BaseRuntime, FlowDependencies } from './runtime';

export async function handleReconnect(
  rawQuery: string,
  runtime: BaseRuntime,
  deps: FlowDependencies<BaseRuntime>,
): Promise<FlowResult> {
  const { config } = runtime;
  // A hint, never trusted: only one well-formed value is passed on, and only to the app's own page.
  const realmHint = realmIdHintOf(rawQuery);
  deps.telemetry.record({
    code: 'RECONNECT_LANDING',
    fields: { realmId: realmHint, signedLinksRequired: config.requireSignedConnectLinks },
  });
  if (!config.requireSignedConnectLinks) return handleConnect(runtime, deps);
  const target = appReconnectTarget(config, realmHint);
  return target === undefined
    ? { kind: 'notice', page: 'reconnect-from-app' }
    : { kind: 'app-reconnect', location: target };
}

/**
 * Where a user reconnects when only the app may start a flow (signed links required): the app's
 * reconnect page, with the realmId as a hint; undefined when links are not required or the app
 * configured no such page. The Reconnect URL and the access-token route's 409 both use it.
 */
export function appReconnectTarget(config: ServiceConfig, realmId: string | undefined): string | undefined {
  if (!config.requireSignedConnectLinks || config.appReconnectUrl === undefined) return undefined;
  const target = new URL(config.appReconnectUrl);
  if (realmId !== undefined) target.searchParams.set('realmId', realmId);
  return target.toString();
}
