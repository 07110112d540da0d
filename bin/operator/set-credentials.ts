/**
 * `npm run set-credentials`: asks for the Intuit client id and secret, trims and validates them as
 * the functions will, stores them in the environment's secret and offers the probe. The secret is
 * never echoed or printed; only the first characters of the client id are.
 */
import { INTUIT_ENDPOINTS, validateCredentials } from '../../lambdas/core/config';
import type { QboEnvironment } from '../../lambdas/core/config';
import { ConfigError } from '../../lambdas/core/errors';
import type { SecretStore, StackDirectory } from './aws-ports';
import { stackNames } from './aws-ports';
import type { IntuitAccess } from './intuit-access';

/** How the tool talks to the operator; tests answer with a script. */
export interface Prompter {
  ask(question: string): Promise<string>;
  /** Like ask, but what is typed is not shown. */
  askHidden(question: string): Promise<string>;
}

export interface SetCredentialsOptions {
  readonly envName: string;
  readonly qboEnvironment: QboEnvironment;
  readonly stacks: StackDirectory;
  readonly secrets: SecretStore;
  readonly intuit: IntuitAccess;
  readonly prompt: Prompter;
  /** Receives every line meant for the operator. */
  readonly say: (line: string) => void;
  /** @default Intuit's token endpoint */
  readonly tokenEndpoint?: string;
}

/** Resolves the process exit code: 0 stored (and, if run, the probe passed), 1 otherwise. */
export async function setCredentials(options: SetCredentialsOptions): Promise<number> {
  const { envName, qboEnvironment, say } = options;
  const names = stackNames(envName);
  const stateful = await options.stacks.describe(names.stateful);
  const secretId = stateful?.outputs['CredentialsSecretName'];
  if (secretId === undefined) {
    say(
      `${names.stateful} is not deployed here (or has no CredentialsSecretName output): npx cdk deploy --all --context env=${envName}`,
    );
    return 1;
  }
  const keys = qboEnvironment === 'production' ? 'Production' : 'Development';
  say(`Intuit developer portal, your app, Keys & credentials: the ${keys} keys (Intuit ${qboEnvironment}).`);
  const typedId = await options.prompt.ask('Client ID: ');
  const typedSecret = await options.prompt.askHidden('Client Secret (not shown): ');
  const clientId = typedId.trim();
  const clientSecret = typedSecret.trim();
  if (clientId !== typedId || clientSecret !== typedSecret) say('Removed whitespace around what was pasted.');
  let credentials;
  try {
    credentials = validateCredentials(
      { clientId, clientSecret, environment: qboEnvironment },
      qboEnvironment,
      'the keys entered',
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    say(`Nothing stored: ${error.problems.join('; ')}`);
    return 1;
  }
  await options.secrets.write(
    secretId,
    JSON.stringify({
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      environment: qboEnvironment,
    }),
  );
  say(
    `Stored the ${qboEnvironment} keys (client id ${clientId.slice(0, 4)}…) in secret ${secretId}. ` +
      'New function instances use them at once, running ones within 5 minutes.',
  );

  const answer = (
    await options.prompt.ask(
      'Ask Intuit whether it accepts them (a token request with a made-up code, spends nothing)? [Y/n] ',
    )
  ).trim();
  if (/^n/i.test(answer)) {
    say(`Skipped. Later: npm run doctor -- --env ${envName} --probe`);
    return 0;
  }
  const stateless = await options.stacks.describe(names.stateless);
  const redirectUri = stateless?.outputs['CallbackUrl'];
  if (redirectUri === undefined) {
    say(
      `${names.stateless} is not deployed yet, so there is no redirect URI to probe with: deploy it, then npm run doctor -- --env ${envName} --probe`,
    );
    return 0;
  }
  const result = await options.intuit.probe(
    options.tokenEndpoint ?? INTUIT_ENDPOINTS.token,
    redirectUri,
    credentials,
  );
  const tid =
    'intuitTid' in result && result.intuitTid !== undefined ? ` (intuit_tid ${result.intuitTid})` : '';
  switch (result.kind) {
    case 'credentials-accepted':
      say(`Intuit accepts these keys: it answered invalid_grant to the made-up code${tid}.`);
      return 0;
    case 'credentials-rejected':
      say(
        `Intuit answered invalid_client: these are not the app's ${keys} keys, or they are mistyped${tid}. Run set-credentials again.`,
      );
      return 1;
    case 'offline':
      say(
        `Could not reach Intuit (${result.reason}); the keys are stored. Later: npm run doctor -- --env ${envName} --probe`,
      );
      return 0;
    case 'inconclusive':
      say(
        `Intuit answered ${result.what}${tid}; the keys are stored. Run npm run doctor -- --env ${envName} --probe again later.`,
      );
      return 1;
  }
}
