/** How the DynamoDB adapters report a failed call: only the SDK error's name survives (F2). */
import { StorageUnavailableError } from '../core/errors';

/** Keeps only the SDK error's name: its message and metadata never reach a log (F2). */
export function storageError(operation: string, error: unknown): StorageUnavailableError {
  const name = error instanceof Error ? error.name : 'UnknownError';
  return new StorageUnavailableError(operation, name, error);
}
