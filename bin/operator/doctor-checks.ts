/**
 * The checks behind `npm run doctor`: each answers pass, fail (with a one-line fix) or skip (with
 * why), in order, later checks using what earlier ones learned. Against a deployed environment they
 * read the stacks, the functions' configuration, the secret, the alarm topic and the log groups;
 * with `--local` they ask a running `npm start`.
 */
import { INTUIT_ENDPOINTS, loadServiceConfig, validateCredentials } from '../../lambdas/core/config';
import type { ClientCredentials, QboEnvironment, ServiceConfig } from '../../lambdas/core/config';
import { ConfigError } from '../../lambdas/core/errors';
import {
  checkDynamoDbEndpoint,
  checkLocalSettings,
  LOCAL_CALLBACK_PATH,
  LocalStartupError,
} from '../../local/startup-checks';
import type { AwsPorts, DeployedStack } from './aws-ports';
import { awsErrorName, stackNames } from './aws-ports';
import type { IntuitAccess } from './intuit-access';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** One line: what was found (never a secret or a token). */
  readonly detail: string;
  /** One line: what to do, for failures. */
  readonly fix?: string;
}

export interface DoctorReport {
  /** What was checked, e.g. `environment prod (Intuit production)` or `local http://localhost:3000`. */
  readonly target: string;
  readonly checks: readonly CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

type Outcome = Omit<CheckResult, 'id' | 'title'>;
const pass = (detail: string): Outcome => ({ status: 'pass', detail });
const fail = (detail: string, fix: string): Outcome => ({ status: 'fail', detail, fix });
const skip = (detail: string): Outcome => ({ status: 'skip', detail });

interface Check<Context> {
  readonly id: string;
  readonly title: string;
  run(context: Context): Promise<Outcome>;
}

/** Called before each check starts (the progress line) and after it ends. */
export interface DoctorProgress {
  starting?(title: string, index: number, total: number): void;
  finished?(result: CheckResult): void;
}

async function runChecks<Context>(
  target: string,
  checks: ReadonlyArray<Check<Context>>,
  context: Context,
  progress: DoctorProgress,
): Promise<DoctorReport> {
  const results: CheckResult[] = [];
  for (const [index, check] of checks.entries()) {
    progress.starting?.(check.title, index + 1, checks.length);
    let outcome: Outcome;
    try {
      outcome = await check.run(context);
    } catch (error) {
      // A check that throws is a failure to report, never a stack trace (AWS errors by name only).
      outcome = awsFailure(error);
    }
    const result: CheckResult = { id: check.id, title: check.title, ...outcome };
    results.push(result);
    progress.finished?.(result);
  }
  const count = (status: CheckStatus) => results.filter((r) => r.status === status).length;
  return { target, checks: results, passed: count('pass'), failed: count('fail'), skipped: count('skip') };
}

function awsFailure(error: unknown): Outcome {
  const name = awsErrorName(error);
  // The SDK's own configuration errors are plain Errors whose message is safe and says it all.
  if (error instanceof Error && /region is missing/i.test(error.message)) {
    return fail(
      'no AWS region configured',
      'set AWS_REGION (or AWS_PROFILE), or region in lib/config/environments.ts',
    );
  }
  if (name === 'CredentialsProviderError') {
    return fail(
      'no AWS credentials found',
      'run with AWS credentials (AWS_PROFILE, aws sso login) for the account the environment is in',
    );
  }
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/.test(name)) {
    return fail(
      `could not check (${name})`,
      "the operator's AWS identity lacks a read permission: see docs/deploy.md, Operator permissions",
    );
  }
  return fail(
    `could not check (${name})`,
    'run again; if it persists, check this resource in the AWS Console',
  );
}

function problemsOf(error: unknown): string {
  if (error instanceof ConfigError) return error.problems.join('; ');
  if (error instanceof LocalStartupError) return error.message;
  throw error;
}

// ---------------------------------------------------------------- deployed environment

export interface DeployedDoctorOptions {
  readonly envName: string;
  /** The Intuit environment lib/config/environments.ts gives this environment. */
  readonly qboEnvironment: QboEnvironment;
  readonly aws: AwsPorts;
  readonly intuit: IntuitAccess;
  /** Send the made-up-code token request. */
  readonly probe: boolean;
}

interface DeployedContext extends DeployedDoctorOptions {
  stateful?: DeployedStack;
  stateless?: DeployedStack;
  config?: ServiceConfig;
  secretId?: string;
  credentials?: ClientCredentials;
}

const DEPLOYED_CHECKS: ReadonlyArray<Check<DeployedContext>> = [
  {
    id: 'stacks',
    title: 'Stacks deployed',
    async run(ctx) {
      const names = stackNames(ctx.envName);
      const [stateful, stateless] = await Promise.all([
        ctx.aws.stacks.describe(names.stateful),
        ctx.aws.stacks.describe(names.stateless),
      ]);
      const missing = [
        stateful === undefined ? names.stateful : undefined,
        stateless === undefined ? names.stateless : undefined,
      ].filter((name) => name !== undefined);
      if (stateful !== undefined) ctx.stateful = stateful;
      if (stateless !== undefined) ctx.stateless = stateless;
      if (missing.length > 0) {
        return fail(
          `${missing.join(' and ')} not found in this account and region`,
          `deploy: npx cdk deploy --all --context env=${ctx.envName} (or set AWS_REGION/AWS_PROFILE to where it is)`,
        );
      }
      return pass(`${names.stateful} and ${names.stateless}`);
    },
  },
  {
    id: 'configuration',
    title: 'Function configuration',
    async run(ctx) {
      if (ctx.stateless === undefined) return skip('needs the stateless stack');
      const functions = ctx.stateless.resources.filter((r) => r.type === 'AWS::Lambda::Function');
      if (functions.length === 0)
        return fail(
          'the stateless stack has no functions',
          `redeploy: npx cdk deploy --all --context env=${ctx.envName}`,
        );
      const environments = await Promise.all(
        functions.map((f) => ctx.aws.functions.environment(f.physicalId)),
      );
      const problems = new Set<string>();
      let config: ServiceConfig | undefined;
      for (const env of environments) {
        try {
          config = loadServiceConfig(env);
        } catch (error) {
          for (const problem of problemsOf(error).split('; ')) problems.add(problem);
        }
      }
      const redirectUris = new Set(environments.map((env) => env['QBO_REDIRECT_URI']));
      if (redirectUris.size > 1) problems.add('the functions do not agree on QBO_REDIRECT_URI');
      if (problems.size > 0 || config === undefined) {
        return fail([...problems].join('; '), `fix lib/config/environments.ts (${ctx.envName}) and redeploy`);
      }
      if (config.qboEnvironment !== ctx.qboEnvironment) {
        return fail(
          `the functions run with QBO_ENVIRONMENT=${config.qboEnvironment}, lib/config/environments.ts says ${ctx.qboEnvironment}`,
          `redeploy: npx cdk deploy --all --context env=${ctx.envName}`,
        );
      }
      ctx.config = config;
      const secretId = environments[0]?.['QBO_CREDENTIALS_SECRET_ID'];
      if (secretId !== undefined) ctx.secretId = secretId;
      return pass(`${functions.length} functions, one valid configuration (Intuit ${config.qboEnvironment})`);
    },
  },
  {
    id: 'secret',
    title: 'Credentials secret',
    async run(ctx) {
      const secretId = ctx.secretId ?? ctx.stateful?.outputs['CredentialsSecretName'];
      if (secretId === undefined) return skip('needs the stateful stack');
      const name = friendlySecretName(secretId);
      const value = await ctx.aws.secrets.read(secretId);
      const fix = `npm run set-credentials -- --env ${ctx.envName}`;
      if (value === undefined)
        return fail(`secret ${name} does not exist`, `redeploy the stateful stack, then ${fix}`);
      let raw: unknown;
      try {
        raw = JSON.parse(value);
      } catch {
        return fail(`secret ${name} is not valid JSON`, fix);
      }
      try {
        ctx.credentials = validateCredentials(raw, ctx.qboEnvironment, `secret ${name}`);
      } catch (error) {
        return fail(problemsOf(error), fix);
      }
      return pass(
        `secret ${name}: ${ctx.qboEnvironment} keys, client id ${ctx.credentials.clientId.slice(0, 4)}…`,
      );
    },
  },
  {
    id: 'redirect-uri',
    title: 'Redirect URI',
    async run(ctx) {
      const callbackUrl = ctx.stateless?.outputs['CallbackUrl'];
      if (ctx.config === undefined || callbackUrl === undefined)
        return skip('needs a valid function configuration and the CallbackUrl output');
      if (ctx.config.redirectUri !== callbackUrl) {
        return fail(
          `the functions use ${ctx.config.redirectUri} but the CallbackUrl output is ${callbackUrl}`,
          `redeploy the stateless stack: npx cdk deploy ${stackNames(ctx.envName).stateless} --context env=${ctx.envName}`,
        );
      }
      const connectUrl = ctx.stateless?.outputs['ConnectUrl'];
      const launch = connectUrl !== undefined ? `; Launch/Connect URL ${connectUrl}` : '';
      // https, no IP, localhost only in sandbox: loadServiceConfig refused anything else above.
      return pass(`register at Intuit, byte for byte: Redirect URI ${callbackUrl}${launch}`);
    },
  },
  {
    id: 'intuit-discovery',
    title: "Intuit's endpoints",
    async run(ctx) {
      return discoveryOutcome(await ctx.intuit.discovery(ctx.qboEnvironment), ctx.config?.tokenEndpoint);
    },
  },
  {
    id: 'probe',
    title: 'Credentials accepted by Intuit',
    async run(ctx) {
      if (!ctx.probe) return skip('run with --probe to send a token request with a made-up code');
      if (ctx.config === undefined || ctx.credentials === undefined)
        return skip('needs a valid configuration and secret');
      return probeOutcome(
        await ctx.intuit.probe(ctx.config.tokenEndpoint, ctx.config.redirectUri, ctx.credentials),
        `npm run set-credentials -- --env ${ctx.envName}`,
        ctx.qboEnvironment,
      );
    },
  },
  {
    id: 'alarm-subscription',
    title: 'Alarm subscription',
    async run(ctx) {
      const topicArn = ctx.stateless?.outputs['AlarmTopicArn'];
      if (topicArn === undefined) return skip('needs the AlarmTopicArn output');
      const subscriptions = await ctx.aws.topics.list(topicArn);
      const confirmed = subscriptions.filter((s) => s.confirmed);
      const subscribe = `aws sns subscribe --topic-arn ${topicArn} --protocol email --notification-endpoint <on-call address>`;
      if (confirmed.length > 0)
        return pass(
          `${confirmed.length} confirmed (${[...new Set(confirmed.map((s) => s.protocol))].join(', ')})`,
        );
      if (subscriptions.length > 0)
        return fail(
          `${subscriptions.length} subscription(s) still pending confirmation`,
          'accept the confirmation email AWS sent',
        );
      return fail('nobody is subscribed: alarms reach no one', subscribe);
    },
  },
  {
    id: 'log-groups',
    title: 'Log groups',
    async run(ctx) {
      if (ctx.stateless === undefined) return skip('needs the stateless stack');
      const groups = ctx.stateless.resources.filter((r) => r.type === 'AWS::Logs::LogGroup');
      const missing: string[] = [];
      for (const group of groups)
        if (!(await ctx.aws.logGroups.exists(group.physicalId))) missing.push(group.physicalId);
      if (groups.length === 0 || missing.length > 0) {
        return fail(
          groups.length === 0
            ? 'the stateless stack declares no log groups'
            : `missing: ${missing.join(', ')}`,
          `redeploy the stateless stack: npx cdk deploy ${stackNames(ctx.envName).stateless} --context env=${ctx.envName}`,
        );
      }
      return pass(`${groups.length} log groups exist`);
    },
  },
];

/** Runs every check against a deployed environment. */
export function runDeployedDoctor(
  options: DeployedDoctorOptions,
  progress: DoctorProgress = {},
): Promise<DoctorReport> {
  return runChecks(
    `environment ${options.envName} (Intuit ${options.qboEnvironment})`,
    DEPLOYED_CHECKS,
    { ...options },
    progress,
  );
}

function discoveryOutcome(
  result: Awaited<ReturnType<IntuitAccess['discovery']>>,
  tokenEndpoint: string | undefined,
): Outcome {
  if (result.kind === 'offline')
    return skip(`offline: Intuit's discovery document did not answer (${result.reason})`);
  if (result.kind === 'http-error') {
    return fail(
      `Intuit's discovery document answered HTTP ${result.status}`,
      'check https://status.developer.intuit.com and run again',
    );
  }
  if (
    tokenEndpoint !== undefined &&
    result.tokenEndpoint !== undefined &&
    result.tokenEndpoint !== tokenEndpoint
  ) {
    return fail(
      `Intuit's token endpoint is ${result.tokenEndpoint}, the functions use ${tokenEndpoint}`,
      'remove QBO_TOKEN_ENDPOINT overrides, or update INTUIT_ENDPOINTS in the connector and redeploy',
    );
  }
  return pass(
    "Intuit's discovery document answers" +
      (result.tokenEndpoint !== undefined ? ` (token endpoint ${result.tokenEndpoint})` : ''),
  );
}

function probeOutcome(
  result: Awaited<ReturnType<IntuitAccess['probe']>>,
  fix: string,
  environment: QboEnvironment,
): Outcome {
  const tid =
    'intuitTid' in result && result.intuitTid !== undefined ? ` (intuit_tid ${result.intuitTid})` : '';
  switch (result.kind) {
    case 'credentials-accepted':
      return pass(
        `Intuit answered invalid_grant to a made-up code: the client id and secret are accepted${tid}`,
      );
    case 'credentials-rejected':
      return fail(
        `Intuit answered invalid_client: the client id or secret is wrong, or not the app's ${environment} keys${tid}`,
        fix,
      );
    case 'offline':
      return skip(`offline: the token endpoint did not answer (${result.reason})`);
    case 'inconclusive':
      return fail(
        `Intuit answered ${result.what}, neither invalid_grant nor invalid_client${tid}`,
        'run again; if it persists, quote the intuit_tid to Intuit support',
      );
  }
}

/** `arn:...:secret:NAME-abcdef` or a name: the name, as the functions' messages print it. */
function friendlySecretName(secretId: string): string {
  return /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(secretId)?.[1] ?? secretId;
}

// ---------------------------------------------------------------- local (npm start)

export interface LocalDoctorOptions {
  /** Where `npm start` listens, e.g. http://localhost:3000. */
  readonly url: string;
  /** The variables `npm start` was given (the doctor runs in the same shell). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly intuit: IntuitAccess;
  readonly probe: boolean;
}

interface LocalContext extends LocalDoctorOptions {
  authorization?: URL;
  redirectUri?: string;
  emulator?: boolean;
  credentials?: ClientCredentials;
  qboEnvironment: QboEnvironment;
}

const LOCAL_CHECKS: ReadonlyArray<Check<LocalContext>> = [
  {
    id: 'settings',
    title: 'Local settings',
    async run(ctx) {
      try {
        checkLocalSettings(ctx.env);
      } catch (error) {
        return fail(problemsOf(error), 'change that variable and restart npm start');
      }
      return pass('the variables npm start reads are usable');
    },
  },
  {
    id: 'connector',
    title: 'Connector answers',
    async run(ctx) {
      let response: Response;
      try {
        response = await fetch(new URL('/connect', ctx.url), {
          redirect: 'manual',
          signal: AbortSignal.timeout(8000),
        });
        // npm start sends a /connect opened on another host name to the redirect URI's host (307)
        // first, where the flow cookie will come back: follow that one step, as a browser does.
        const moved = response.headers.get('location');
        if (response.status === 307 && moved !== null) {
          response = await fetch(moved, { redirect: 'manual', signal: AbortSignal.timeout(8000) });
        }
      } catch {
        return fail(
          `nothing answers at ${ctx.url}`,
          'start it with npm start, or pass --url with the address it printed',
        );
      }
      const location = response.headers.get('location');
      if (response.status !== 302 || location === null) {
        return fail(
          `/connect answered HTTP ${response.status} instead of sending the browser to Intuit`,
          'read the CONFIG_INVALID or STORAGE_UNAVAILABLE line npm start just logged',
        );
      }
      const authorization = new URL(location);
      ctx.authorization = authorization;
      const redirectUri = authorization.searchParams.get('redirect_uri');
      if (redirectUri !== null) ctx.redirectUri = redirectUri;
      const host = authorization.hostname;
      ctx.emulator = host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
      return pass(
        `/connect sends the browser to ${ctx.emulator ? 'the built-in Intuit emulator' : authorization.origin}`,
      );
    },
  },
  {
    id: 'redirect-uri',
    title: 'Redirect URI',
    async run(ctx) {
      if (ctx.redirectUri === undefined) return skip('needs an answer from /connect');
      const redirect = new URL(ctx.redirectUri);
      const opened = new URL(ctx.url);
      const configured = ctx.env['QBO_REDIRECT_URI'];
      if (configured !== undefined && configured !== ctx.redirectUri) {
        return fail(
          `the server uses ${ctx.redirectUri}, QBO_REDIRECT_URI here is ${configured}`,
          'run the doctor in the shell npm start runs in',
        );
      }
      if (redirect.pathname !== LOCAL_CALLBACK_PATH) {
        return fail(
          `${ctx.redirectUri} is not served by npm start`,
          `set QBO_REDIRECT_URI to a URI ending in ${LOCAL_CALLBACK_PATH}`,
        );
      }
      if (redirect.hostname !== opened.hostname) {
        return pass(
          `${ctx.redirectUri}; flows opened at ${opened.hostname} are sent on to ${redirect.hostname} first, ` +
            `where the flow cookie comes back: open ${redirect.origin}/connect directly`,
        );
      }
      return pass(
        `${ctx.redirectUri}${ctx.emulator === true ? '' : ' (register it at Intuit byte for byte)'}`,
      );
    },
  },
  {
    id: 'credentials',
    title: 'Client credentials',
    async run(ctx) {
      const clientId = ctx.env['QBO_CLIENT_ID'];
      const clientSecret = ctx.env['QBO_CLIENT_SECRET'];
      if (clientId === undefined && clientSecret === undefined)
        return skip("the emulator's keys are made afresh on every npm start");
      try {
        ctx.credentials = validateCredentials(
          { clientId, clientSecret, environment: ctx.qboEnvironment },
          ctx.qboEnvironment,
          'QBO_CLIENT_ID/QBO_CLIENT_SECRET',
        );
      } catch (error) {
        return fail(
          problemsOf(error),
          "set QBO_CLIENT_ID and QBO_CLIENT_SECRET to the app's keys, without spaces",
        );
      }
      return pass(`${ctx.qboEnvironment} keys, client id ${ctx.credentials.clientId.slice(0, 4)}…`);
    },
  },
  {
    id: 'intuit-discovery',
    title: "Intuit's endpoints",
    async run(ctx) {
      if (ctx.emulator !== false) return skip('the built-in emulator stands in for Intuit');
      return discoveryOutcome(await ctx.intuit.discovery(ctx.qboEnvironment), undefined);
    },
  },
  {
    id: 'probe',
    title: 'Credentials accepted by Intuit',
    async run(ctx) {
      if (!ctx.probe) return skip('run with --probe to send a token request with a made-up code');
      if (ctx.emulator !== false || ctx.credentials === undefined || ctx.redirectUri === undefined) {
        return skip('needs real Intuit keys (QBO_CLIENT_ID, QBO_CLIENT_SECRET)');
      }
      const tokenEndpoint = ctx.env['QBO_TOKEN_ENDPOINT'] ?? INTUIT_ENDPOINTS.token;
      return probeOutcome(
        await ctx.intuit.probe(tokenEndpoint, ctx.redirectUri, ctx.credentials),
        'fix QBO_CLIENT_ID/QBO_CLIENT_SECRET',
        ctx.qboEnvironment,
      );
    },
  },
  {
    id: 'outcome-pages',
    title: 'Outcome pages',
    async run(ctx) {
      let status: number;
      try {
        status = (await fetch(new URL('/outcome/connected', ctx.url), { signal: AbortSignal.timeout(8000) }))
          .status;
      } catch {
        return fail(`nothing answers at ${ctx.url}`, 'start it with npm start');
      }
      return status === 200
        ? pass('/outcome/connected answers')
        : fail(`/outcome/connected answered HTTP ${status}`, 'read the last error npm start logged');
    },
  },
  {
    id: 'dynamodb',
    title: 'DynamoDB',
    async run(ctx) {
      const endpoint = ctx.env['DYNAMODB_ENDPOINT'];
      if (endpoint === undefined || endpoint === '')
        return skip('npm start runs its own DynamoDB Local (its answer at /connect above says it works)');
      try {
        await checkDynamoDbEndpoint(endpoint);
      } catch (error) {
        return fail(problemsOf(error), 'start DynamoDB there, or unset DYNAMODB_ENDPOINT');
      }
      return pass(`${endpoint} answers as DynamoDB`);
    },
  },
  {
    id: 'alarms-and-logs',
    title: 'Alarms and log groups',
    async run() {
      return skip('only deployed environments have alarms and log groups: npm run doctor -- --env <name>');
    },
  },
];

/** Runs the checks that make sense against `npm start`. */
export function runLocalDoctor(
  options: LocalDoctorOptions,
  progress: DoctorProgress = {},
): Promise<DoctorReport> {
  const raw = options.env['QBO_ENVIRONMENT'];
  const qboEnvironment: QboEnvironment = raw === 'production' ? 'production' : 'sandbox';
  return runChecks(`local ${options.url}`, LOCAL_CHECKS, { ...options, qboEnvironment }, progress);
}
