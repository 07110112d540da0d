/** Which deployed environment an operator's command is about, named as the CLI names it. */
import { EnvironmentConfigError, resolveEnvironment } from '../../lib/config/environments';
import type { ResolvedEnvironment } from '../../lib/config/environments';

/** The CDK message, in the operator tools' own flag: `--env <name>`, not `--context env=<name>`. */
export function operatorMessage(message: string): string {
  return message.replace('--context env=<name>', '--env <name>');
}

/** Resolves `--env`; on a missing or unknown name prints why to stderr and returns undefined. */
export function resolveOperatorEnvironment(name: unknown): ResolvedEnvironment | undefined {
  try {
    return resolveEnvironment(name);
  } catch (error) {
    if (!(error instanceof EnvironmentConfigError)) throw error;
    process.stderr.write(`${operatorMessage(error.message)}\n`);
    return undefined;
  }
}
