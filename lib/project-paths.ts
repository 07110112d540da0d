import * as path from 'node:path';
import type { HandlerName } from '../lambdas/routes';
import { FUNCTIONS, HANDLER_NAMES } from '../lambdas/routes';

/**
 * Files of this repository that the CDK code needs. Resolved from this file's location, never from
 * the working directory, so `cdk synth` and the tests behave the same from any folder.
 */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The lock file esbuild's bundling is keyed on (NodejsFunction `depsLockFilePath`). */
export const DEPS_LOCK_FILE = path.join(PROJECT_ROOT, 'package-lock.json');

/** Entry files of the Lambda handlers, each exporting `handler` (from the function registry). */
export const HANDLER_ENTRIES = Object.fromEntries(
  HANDLER_NAMES.map((name) => [name, path.join(PROJECT_ROOT, FUNCTIONS[name].entry)]),
) as Readonly<Record<HandlerName, string>>;
