/**
 * Tokens that exist only in this process must be written before the invocation ends (C8, D3):
 * retry a write while a whole attempt still fits, keeping time back for whatever must follow, and
 * stop at once on an answer that another try cannot change. The callback's token store uses it,
 * and so can any path that holds freshly issued tokens (a refresh).
 */
import { StorageUnavailableError } from './errors';
import { WRITE_WORST_MS } from './time-budget';

export interface WriteRetryOptions {
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Epoch ms by which the write and what follows must be done. */
  readonly deadline: number;
  /** Time kept back after the last attempt (e.g. to record the failure). */
  readonly reserveMs: number;
  /** @default 3 */
  readonly attempts?: number;
}

export type WriteRetryResult<T> =
  | { readonly kind: 'written'; readonly value: T; readonly attempts: number }
  /** Every attempt failed with StorageUnavailableError: the last one may still have landed. */
  | { readonly kind: 'unavailable'; readonly error: StorageUnavailableError; readonly attempts: number }
  /** An error another try cannot change (e.g. the code is no longer ours). */
  | { readonly kind: 'final'; readonly error: Error; readonly attempts: number };

export async function writeWithRetry<T>(
  write: () => Promise<T>,
  isFinal: (error: unknown) => error is Error,
  options: WriteRetryOptions,
): Promise<WriteRetryResult<T>> {
  const attempts = options.attempts ?? 3;
  let last: StorageUnavailableError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // The first attempt always runs: the caller's budget guaranteed it fits.
    if (attempt > 1 && options.clock() + WRITE_WORST_MS >= options.deadline - options.reserveMs) {
      return last === undefined
        ? {
            kind: 'unavailable',
            error: new StorageUnavailableError('write', 'NoTimeLeft'),
            attempts: attempt - 1,
          }
        : { kind: 'unavailable', error: last, attempts: attempt - 1 };
    }
    try {
      return { kind: 'written', value: await write(), attempts: attempt };
    } catch (error) {
      if (isFinal(error)) return { kind: 'final', error, attempts: attempt };
      if (!(error instanceof StorageUnavailableError)) throw error;
      last = error;
      if (attempt < attempts) await options.sleep(100 * 3 ** (attempt - 1));
    }
  }
  return { kind: 'unavailable', error: last ?? new StorageUnavailableError('write', 'NoAttempt'), attempts };
}
