/**
 * GET /reconnect, the Reconnect URL registered at Intuit (mandatory since January 2026). What Intuit
 * sends there is undocumented, so it works with no parameters and treats a `realmId` as a hint
 * only. Without signed connect links it starts a flow like /connect; with them (A5) only the app can
 * mint a link for its signed-in user, so the browser goes to the app's reconnect page, or is told to
 * reconnect from the app.
 */
import { handleConnect } from './connect-flow';
import type { FlowResult } from './flow-results';
import type { BaseRuntime, FlowDependencies } from './runtime';

const REALM_HINT = /^[0-9]{1,32}$/;

export async function handleReconnect(
  rawQuery: string,
  runtime: BaseRuntime,
  deps: FlowDependencies<BaseRuntime>,
): Promise<FlowResult> {
  const { config } = runtime;
  const realmIds = new URLSearchParams(rawQuery).getAll('realmId');
  // A hint, never trusted: only one well-formed value is passed on, and only to the app's own page.
  const realmHint = realmIds.length === 1 && REALM_HINT.test(realmIds[0] ?? '') ? realmIds[0] : undefined;
  deps.telemetry.record({
    code: 'RECONNECT_LANDING',
    fields: { realmId: realmHint, signedLinksRequired: config.requireSignedConnectLinks },
  });
  if (!config.requireSignedConnectLinks) return handleConnect(runtime, deps);
  if (config.appReconnectUrl === undefined) return { kind: 'notice', page: 'reconnect-from-app' };
  const target = new URL(config.appReconnectUrl);
  if (realmHint !== undefined) target.searchParams.set('realmId', realmHint);
  return { kind: 'app-reconnect', location: target.toString() };
}
