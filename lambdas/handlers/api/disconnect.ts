/**
 * DELETE /api/connections/{realmId}: the tokens are deleted first and the record kept as
 * DISCONNECTED; only then is the refresh token revoked at Intuit, best effort and bounded (D7), so
 * a slow or failing Intuit can neither undo nor hold up the deletion for long.
 */
import type { TokenDependencies, TokenRuntime } from '../../core/runtime';
import type { HttpResponse } from '../web/http-responses';
import { apiError, noContent } from './json-responses';

/** Bound on the revocation request: the app waits at most this long after its deletion is done. */
export const REVOKE_TIMEOUT_MS = 2_000;

export async function disconnect(
  realmId: string,
  runtime: TokenRuntime,
  deps: TokenDependencies,
): Promise<HttpResponse> {
  const { telemetry } = deps;
  const result = await runtime.connections.markDisconnected(realmId, deps.clock());
  if (result.kind === 'not-found')
    return apiError(404, 'connection_not_found', 'No connection is stored for this company.');
  telemetry.record({
    code: 'CONNECTION_DISCONNECTED',
    fields: { realmId, revoking: result.removedTokens !== undefined },
  });
  if (result.removedTokens === undefined) return noContent();
  let credentials;
  try {
    credentials = await runtime.credentials.get();
  } catch (error) {
    telemetry.record({
      code: 'REVOKE_FAILED',
      fields: {
        realmId,
        reason: 'credentials',
        errorName: error instanceof Error ? error.name : typeof error,
      },
    });
    return noContent();
  }
  const outcome = await runtime.revoker.revoke(
    result.removedTokens.refreshToken,
    credentials,
    REVOKE_TIMEOUT_MS,
  );
  if (outcome.kind === 'failed')
    telemetry.record({
      code: 'REVOKE_FAILED',
      fields: {
        realmId,
        status: outcome.status,
        transportCode: outcome.transportCode,
        intuitTid: outcome.intuitTid,
      },
    });
  return noContent();
}
