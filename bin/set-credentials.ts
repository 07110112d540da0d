/**
 * `npm run set-credentials -- --env <name>`: puts the Intuit client id and secret into the
 * environment's Secrets Manager secret. See README "Operators' tools".
 */
import { resolveOperatorEnvironment } from './operator/environment';
import { parseArgs } from 'node:util';
import { awsPorts, createAwsClients } from './operator/aws-ports';
import { httpIntuitAccess } from './operator/intuit-access';
import { setCredentials } from './operator/set-credentials';
import { terminalPrompter } from './operator/terminal-prompter';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { env: { type: 'string' } } });
  const resolved = resolveOperatorEnvironment(values.env);
  if (resolved === undefined) return 2;
  const aws = awsPorts(createAwsClients(resolved.config.region));
  const prompt = terminalPrompter(process.stdin, process.stderr);
  try {
    return await setCredentials({
      envName: resolved.envName,
      qboEnvironment: resolved.config.qboEnvironment,
      stacks: aws.stacks,
      secrets: aws.secrets,
      intuit: httpIntuitAccess(),
      prompt,
      say: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    prompt.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Never the error object: an SDK error could quote the request, and the request held the secret.
    const name = error instanceof Error ? error.name : 'unknown error';
    const hint =
      error instanceof Error && /region is missing/i.test(error.message)
        ? ': set AWS_REGION or AWS_PROFILE'
        : name === 'CredentialsProviderError'
          ? ': run with AWS credentials (AWS_PROFILE, aws sso login)'
          : /AccessDenied/.test(name)
            ? ': see docs/deploy.md, Operator permissions'
            : '';
    console.error(`set-credentials failed (${name})${hint}`);
    process.exit(1);
  },
);
