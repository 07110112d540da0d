import * as path from 'node:path';

/**
 * Files of this repository that the CDK code needs. Resolved from this file's location, never from
 * the working directory, so `cdk synth` and the tests behave the same from any folder.
 */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The lock file esbuild's bundling is keyed on (NodejsFunction `depsLockFilePath`). */
export const DEPS_LOCK_FILE = path.join(PROJECT_ROOT, 'package-lock.json');

/** Entry files of the Lambda handlers, each exporting `handler`. */
export const HANDLER_ENTRIES = {
  connect: path.join(PROJECT_ROOT, 'lambdas', 'connect.ts'),
  callback: path.join(PROJECT_ROOT, 'lambdas', 'callback.ts'),
  outcome: path.join(PROJECT_ROOT, 'lambdas', 'outcome.ts'),
} as const;
