/**
 * The keep-alive run (docs/design.md "Keep-alive"): Intuit expects refresh on demand, so a
 * connection the app uses is refreshed by its own requests. The refresher only refreshes the idle
 * ones whose rolling 100-day window runs short, found through the due-time index (its cost follows
 * the due connections, not the table), and counts the connections that need a person: waiting for
 * a reconnect, or near Intuit's 5-year cap (which no refresh extends).
 */
import type { ConnectionStore } from './connection-store';
import type { Telemetry } from './telemetry';
import { NEAR_HARD_EXPIRY_MS, REFRESH_LEASE_MS } from './token-budget';
import type { KeepAliveResult, TokenLifecycle } from './token-lifecycle';

export interface KeepAliveRunOptions {
  /** Epoch ms by which the run must end (the function's deadline). */
  readonly deadline: number;
  /** Refreshes in flight at once: gentle on Intuit, enough for thousands a run. @default 4 */
  readonly concurrency?: number;
  /** Due connections read per index page. @default 100 */
  readonly pageSize?: number;
  /** At most this many refreshes per run; the next run takes the rest. @default 2000 */
  readonly maxConnections?: number;
}

export interface KeepAliveRunReport {
  /** Due connections read from the index this run. */
  readonly due: number;
  readonly outcomes: Readonly<Record<KeepAliveResult | 'error', number>>;
  /** Index pages read (each one Query). */
  readonly indexPages: number;
  readonly reconnectRequired: number;
  readonly nearHardExpiry: number;
  /** Connections newly marked near their 5-year cap this run (each becomes one lifecycle event). */
  readonly nearHardExpiryNotified: number;
  /** True when the deadline or the per-run cap stopped the run before the index was exhausted. */
  readonly stoppedEarly: boolean;
}

export async function runKeepAlive(
  deps: {
    readonly store: ConnectionStore;
    readonly lifecycle: TokenLifecycle;
    readonly telemetry: Telemetry;
    readonly clock: () => number;
  },
  options: KeepAliveRunOptions,
): Promise<KeepAliveRunReport> {
  const { store, lifecycle, telemetry, clock } = deps;
  const concurrency = options.concurrency ?? 4;
  const pageSize = options.pageSize ?? 100;
  const maxConnections = options.maxConnections ?? 2000;
  const outcomes: Record<KeepAliveResult | 'error', number> = {
    refreshed: 0,
    'not-due': 0,
    busy: 0,
    'reconnect-required': 0,
    unavailable: 0,
    error: 0,
  };
  const started = clock();
  // Each refresh may hold its lease this long: none starts that could not finish inside the run.
  const lastStart = options.deadline - REFRESH_LEASE_MS;
  let due = 0;
  let indexPages = 0;
  let cursor: string | undefined;
  let stoppedEarly = false;
  do {
    if (clock() >= lastStart || due >= maxConnections) {
      stoppedEarly = true;
      break;
    }
    const page = await store.listDueForRefresh(started, {
      limit: Math.min(pageSize, maxConnections - due),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    indexPages += 1;
    cursor = page.cursor;
    const queue = [...page.items];
    due += queue.length;
    const worker = async (): Promise<void> => {
      for (let realmId = queue.shift(); realmId !== undefined; realmId = queue.shift()) {
        if (clock() >= lastStart) {
          stoppedEarly = true;
          return;
        }
        try {
          outcomes[await lifecycle.keepAlive(realmId, options.deadline)] += 1;
        } catch {
          // One company's storage or key failure must not end the run for the others.
          outcomes.error += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  } while (cursor !== undefined && !stoppedEarly);

  // Tell the app, once per grant, about each connection within 30 days of its 5-year cap: the
  // marker's write is what the "Connection Near Hard Expiry" event comes from (no refresh helps).
  let nearHardExpiryNotified = 0;
  let nearCursor: string | undefined;
  let nearRead = 0;
  do {
    if (clock() >= options.deadline - 1_000 || nearRead >= maxConnections) break;
    const page = await store.listNearHardExpiry(clock() + NEAR_HARD_EXPIRY_MS, {
      limit: pageSize,
      ...(nearCursor !== undefined ? { cursor: nearCursor } : {}),
    });
    nearRead += page.items.length;
    nearCursor = page.cursor;
    for (const { realmId, hardExpiresAt } of page.items) {
      try {
        if (await store.markNearHardExpiryNotified(realmId, hardExpiresAt)) nearHardExpiryNotified += 1;
      } catch {
        outcomes.error += 1;
      }
    }
  } while (nearCursor !== undefined);

  const reconnectRequired = await store.countReconnectRequired();
  const nearHardExpiry = await store.countNearHardExpiry(clock() + NEAR_HARD_EXPIRY_MS);
  telemetry.gauge('ConnectionsReconnectRequired', reconnectRequired);
  telemetry.gauge('ConnectionsNearHardExpiry', nearHardExpiry);
  telemetry.record({
    code: 'KEEP_ALIVE_RUN',
    fields: {
      due,
      indexPages,
      refreshed: outcomes.refreshed,
      notDue: outcomes['not-due'],
      busy: outcomes.busy,
      reconnectRequiredNow: outcomes['reconnect-required'],
      unavailable: outcomes.unavailable,
      errors: outcomes.error,
      reconnectRequired,
      nearHardExpiry,
      nearHardExpiryNotified,
      stoppedEarly,
      durationMs: clock() - started,
    },
  });
  return {
    due,
    outcomes,
    indexPages,
    reconnectRequired,
    nearHardExpiry,
    nearHardExpiryNotified,
    stoppedEarly,
  };
}
