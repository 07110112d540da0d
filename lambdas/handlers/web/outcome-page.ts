/** GET /outcome/{kind}: the pages the callback redirects to (E1). Stateless; reads nothing. */
import { REFERENCE_PATTERN } from '../../core/flow-identifiers';
import type { HttpResponse } from './http-responses';
import { pageResponse } from './http-responses';
import type { PageContext } from './pages';
import { isOutcomeKind } from './pages';

export interface OutcomeRequest {
  readonly method: string;
  readonly kind: string | undefined;
  readonly rawQuery: string;
}

export function handleOutcome(
  request: OutcomeRequest,
  page: Omit<PageContext, 'reference'>,
  https: boolean,
): HttpResponse {
  if (request.method !== 'GET') return pageResponse(405, 'method-not-allowed', page, https);
  if (request.kind === undefined || !isOutcomeKind(request.kind))
    return pageResponse(404, 'not-found', page, https);
  const ref = new URLSearchParams(request.rawQuery.slice(0, 256)).get('ref');
  const reference = ref !== null && REFERENCE_PATTERN.test(ref) ? ref : undefined;
  return pageResponse(
    200,
    request.kind,
    { ...page, ...(reference !== undefined ? { reference } : {}) },
    https,
  );
}
