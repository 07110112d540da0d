import { QBO_API_BASE_URLS } from '../../lambdas/core/company-info';
import { FLOW_TTL_SECONDS_BOUNDS, SCOPE_PATTERN } from '../../lambdas/core/config';
import {
  CALLBACK_TIMEOUT_SECONDS,
  COMPANY_CHECK_TIMEOUT_BOUNDS,
  DEFAULT_COMPANY_CHECK_TIMEOUT_MS,
  maxTokenRequestTimeoutMs,
  MIN_TOKEN_REQUEST_MS,
} from '../../lambdas/core/time-budget';
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/**
 * Per-environment configuration: the one place that says how `dev` differs from `prod`.
 *
 * Chosen once in `bin/app.ts` from `--context env=<name>` and passed down as props; constructs never
 * read context or `process.env`. Plain data (plus CDK enums), validated by {@link resolveEnvironment}
 * before any construct sees it.
 */

/** Names accepted by `--context env=<name>`. */
export const ENV_NAMES = ['dev', 'prod'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

/** Which Intuit OAuth environment (and so which developer-portal keys) an environment talks to. */
export type QboEnvironment = 'sandbox' | 'production';

/**
 * Alarm thresholds, each a Sum over {@link AlarmThresholds.periodMinutes}. An alarm fires when the
 * sum is at least the threshold.
 */
export interface AlarmThresholds {
  /** @default 5 */
  readonly periodMinutes: number;
  /** Intuit answered `invalid_grant` (revoked, reused or expired code/refresh token). @default 1 */
  readonly invalidGrant: number;
  /** Intuit answered `invalid_client`: the credentials in the secret are wrong. @default 1 */
  readonly invalidClient: number;
  /** The secret is missing, unreadable or still the placeholder (docs/security.md G5). @default 1 */
  readonly configError: number;
  /** The token endpoint rejected the exchange, or was unreachable, or answered garbage. @default 3 */
  readonly tokenExchangeFailed: number;
  /** The exchange may have reached Intuit but we do not know the outcome (docs/security.md C3). @default 1 */
  readonly tokenExchangeAmbiguous: number;
  /** Tokens were issued but could not be stored, or may not have been (docs/security.md C8). @default 1 */
  readonly tokenStoreFailed: number;
  /**
   * A callback's new token did not open the company its URL named: a forged or edited realmId
   * (docs/security.md B6). @default 1
   */
  readonly realmMismatch: number;
  /** CompanyInfo did not answer usably, so connections could not be verified (B6). @default 3 */
  readonly companyCheckUnavailable: number;
  /** Secrets Manager was throttled or unreachable (docs/security.md G5). @default 3 */
  readonly secretsUnavailable: number;
  /** DynamoDB refused or failed a request after the SDK's bounded retries (docs/security.md G1). @default 3 */
  readonly storageUnavailable: number;
  /** Unhandled errors of one function (AWS/Lambda Errors). @default 1 */
  readonly lambdaErrors: number;
  /** Throttled invocations of one function (AWS/Lambda Throttles). @default 1 */
  readonly lambdaThrottles: number;
  /** 5xx answers of the HTTP API (AWS/ApiGateway 5xx). @default 3 */
  readonly api5xx: number;
  /** Throttled requests on one table (read plus write throttle events). @default 1 */
  readonly dynamoDbThrottles: number;
  /** DynamoDB system errors on one table. @default 1 */
  readonly dynamoDbSystemErrors: number;
  /**
   * Refresh tokens Intuit refused (`invalid_grant`) in one period. A connection counts once: after
   * its `invalid_grant` it needs its user and is never refreshed again until a reconnect. So one
   * company disconnecting the app inside QuickBooks counts 1 and does not page; this many distinct
   * companies losing their grant within minutes points at a cause on our side or Intuit's (a
   * rotated refresh token not persisted, the app's keys regenerated or revoked, an Intuit incident).
   * @default 5
   */
  readonly refreshInvalidGrantBurst: number;
  /** Refreshed tokens that could not be stored after retries (the rotated refresh token is at risk). @default 1 */
  readonly refreshStoreFailed: number;
  /**
   * Ambiguous refreshes (timeout, 5xx, 429, reset) per period, sustained over three periods in a
   * row: an Intuit token-endpoint outage, not one slow answer. @default 10
   */
  readonly refreshAmbiguous: number;
  /** KMS could not encrypt or decrypt tokens. @default 1 */
  readonly keyServiceUnavailable: number;
  /** Stored tokens that do not decrypt for their company (altered, copied or wrong key). @default 1 */
  readonly tokenDecryptFailed: number;
  /**
   * Alarm when more connections than this wait for their user to reconnect (the refresher's
   * `ConnectionsReconnectRequired` gauge, strictly above). 0 alarms on any. @default 10
   */
  readonly connectionsReconnectRequired: number;
}

/** Custom domain served by API Gateway instead of the `execute-api` URL. */
export interface CustomDomainConfig {
  /** e.g. `connect.example.com`. The operator creates the DNS record (see docs/deploy.md). */
  readonly domainName: string;
  /** ARN of an ACM certificate for {@link domainName}, in the stack's region. */
  readonly certificateArn: string;
}

/** What happens to data when a stack is deleted or a resource is replaced. */
export interface DataProtectionConfig {
  /** Tables, the tables' KMS key, the secret and log groups. */
  readonly removalPolicy: RemovalPolicy;
  /** DynamoDB deletion protection on both tables. */
  readonly deletionProtection: boolean;
  /** DynamoDB point-in-time recovery on both tables. */
  readonly pointInTimeRecovery: boolean;
}

export interface EnvironmentConfig {
  /** Target account. @default - environment-agnostic stack (resolved by the CLI at deploy time) */
  readonly account?: string;
  /** Target region. @default - environment-agnostic stack (resolved by the CLI at deploy time) */
  readonly region?: string;
  /** Display name shown on the pages. */
  readonly appName: string;
  /** Intuit sandbox or production. Must match the `environment` field the operator puts in the secret. */
  readonly qboEnvironment: QboEnvironment;
  /** OAuth scopes requested from Intuit, exactly (docs/security.md A6). */
  readonly scopes: readonly string[];
  /** @default - no custom domain; the redirect URI is the `execute-api` URL */
  readonly customDomain?: CustomDomainConfig;
  /** https URL of the app that the success page links back to. @default - no link */
  readonly appReturnUrl?: string;
  /**
   * https URL the callback sends the browser to after a connection, with `?realmId=`, instead of
   * the built-in success page. @default - the built-in page
   */
  readonly appSuccessUrl?: string;
  /**
   * https URL the callback sends the browser to after a failed or cancelled connection, with
   * `?outcome=failed|cancelled` (and `&ref=` for failures). @default - the built-in pages
   */
  readonly appFailureUrl?: string;
  /**
   * The app's page that signs the user in and mints a connect link: where `/reconnect` and the
   * access-token route's `reconnectUrl` send users when signed links are required. @default none
   */
  readonly appReconnectUrl?: string;
  /** Email subscribed to the alarm topic (confirmation required). @default - no subscription */
  readonly alarmEmail?: string;
  /**
   * Where alarm descriptions point on-call, e.g. the runbook's URL in the repository browser; an
   * anchor per alarm is appended.
   * @default 'docs/runbook.md'
   */
  readonly runbookUrl: string;
  /** Lifetime of a started flow (state), seconds (docs/security.md A2: about 15 minutes). */
  readonly flowTtlSeconds: number;
  /** Timeout of the call to Intuit's token endpoint, ms; must fit the callback Lambda (docs/security.md C4). */
  readonly tokenRequestTimeoutMs: number;
  /**
   * Timeout of the CompanyInfo request that verifies the company after an exchange, ms (B6).
   * @default 3000
   */
  readonly companyCheckTimeoutMs?: number;
  /**
   * The accounting API host the company check calls, no path.
   * @default - Intuit's host for {@link qboEnvironment}
   */
  readonly qboApiBaseUrl?: string;
  readonly alarmThresholds: AlarmThresholds;
  /** Retention of the function and access log groups. */
  readonly logRetention: RetentionDays;
  /** Default-route throttling of the HTTP API. */
  readonly throttling: { readonly rateLimit: number; readonly burstLimit: number };
  readonly dataProtection: DataProtectionConfig;
  /**
   * Who may assume the `ApiCallerRole` and so call the `/api/*` routes: 12-digit account IDs (any
   * principal of that account whose own policy allows `sts:AssumeRole` on the role) or IAM role or
   * user ARNs. Empty: this stack's own account only (its root principal, so any role or user of the
   * account that is allowed to assume it).
   * @default []
   */
  readonly apiCallerPrincipals: readonly string[];
  /**
   * An `sts:ExternalId` every assumption of the `ApiCallerRole` must present. Set it when a principal
   * belongs to a third party (an account you do not control), so that party cannot be tricked into
   * assuming the role on someone else's behalf (the confused-deputy problem).
   * @default - no external ID required
   */
  readonly apiCallerExternalId?: string;
  /** How often the keep-alive refresher runs, minutes (15..1440). @default 60 */
  readonly keepAliveIntervalMinutes: number;
  /**
   * A5, I1: /connect starts a flow only from a signed connect link the app minted through
   * `POST /api/connect-links`; a plain /connect is refused. Off lets the app send users to a plain
   * /connect (its connections then belong to no tenant).
   * @default - on for a production (`qboEnvironment: 'production'`) environment, off otherwise
   */
  readonly requireSignedConnectLinks?: boolean;
  /**
   * The app's https endpoint for lifecycle events, for an app that cannot subscribe to the event
   * bus. When set, the stack adds a generated signing secret, a queue fed by a rule on the bus, and
   * a function that POSTs each event signed the Standard Webhooks way, retried with backoff for
   * over six hours before it goes to a dead-letter queue with an alarm.
   * @default - no webhooks
   */
  readonly webhookUrl?: string;
}

/** Whether an environment requires signed connect links, its default filled in. */
export function requireSignedConnectLinksOf(config: EnvironmentConfig): boolean {
  return config.requireSignedConnectLinks ?? config.qboEnvironment === 'production';
}

/** Scope for QuickBooks Online accounting data. */
export const DEFAULT_SCOPES = ['com.intuit.quickbooks.accounting'] as const;

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  periodMinutes: 5,
  invalidGrant: 1,
  invalidClient: 1,
  configError: 1,
  tokenExchangeFailed: 3,
  tokenExchangeAmbiguous: 1,
  tokenStoreFailed: 1,
  realmMismatch: 1,
  companyCheckUnavailable: 3,
  secretsUnavailable: 3,
  storageUnavailable: 3,
  lambdaErrors: 1,
  lambdaThrottles: 1,
  api5xx: 3,
  dynamoDbThrottles: 1,
  dynamoDbSystemErrors: 1,
  refreshInvalidGrantBurst: 5,
  refreshStoreFailed: 1,
  refreshAmbiguous: 10,
  keyServiceUnavailable: 1,
  tokenDecryptFailed: 1,
  connectionsReconnectRequired: 10,
};

/**
 * Bounds of {@link EnvironmentConfig.keepAliveIntervalMinutes}. A connection becomes due a month
 * before its refresh token would die, so running more often than every 15 minutes buys nothing;
 * running at least daily gives a due connection some thirty attempts before it is lost.
 */
export const KEEP_ALIVE_INTERVAL_MINUTES_BOUNDS = { min: 15, max: 1440 } as const;

/** A principal allowed to assume the ApiCallerRole: an account ID or an IAM role or user ARN. */
const API_CALLER_ACCOUNT = /^\d{12}$/;
const API_CALLER_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}$/;
/** The characters and length STS accepts for an external ID. */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/** The company check's timeout of an environment, its default filled in. */
export function companyCheckTimeoutMsOf(config: EnvironmentConfig): number {
  return config.companyCheckTimeoutMs ?? DEFAULT_COMPANY_CHECK_TIMEOUT_MS;
}

/** The accounting API host of an environment, its default filled in. */
export function qboApiBaseUrlOf(config: EnvironmentConfig): string {
  return config.qboApiBaseUrl ?? QBO_API_BASE_URLS[config.qboEnvironment];
}

export const ENVIRONMENTS: Readonly<Record<EnvName, EnvironmentConfig>> = {
  dev: {
    appName: 'QuickBooks Connector (dev)',
    qboEnvironment: 'sandbox',
    scopes: DEFAULT_SCOPES,
    runbookUrl: 'docs/runbook.md',
    flowTtlSeconds: 900,
    tokenRequestTimeoutMs: 8_000,
    alarmThresholds: DEFAULT_ALARM_THRESHOLDS,
    logRetention: RetentionDays.TWO_WEEKS,
    throttling: { rateLimit: 5, burstLimit: 10 },
    dataProtection: {
      removalPolicy: RemovalPolicy.DESTROY,
      deletionProtection: false,
      pointInTimeRecovery: true,
    },
    apiCallerPrincipals: [],
    keepAliveIntervalMinutes: 60,
    requireSignedConnectLinks: false,
  },
  prod: {
    appName: 'QuickBooks Connector',
    qboEnvironment: 'production',
    scopes: DEFAULT_SCOPES,
    runbookUrl: 'docs/runbook.md',
    flowTtlSeconds: 900,
    tokenRequestTimeoutMs: 8_000,
    alarmThresholds: DEFAULT_ALARM_THRESHOLDS,
    logRetention: RetentionDays.THREE_MONTHS,
    throttling: { rateLimit: 50, burstLimit: 100 },
    dataProtection: {
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
      pointInTimeRecovery: true,
    },
    apiCallerPrincipals: [],
    keepAliveIntervalMinutes: 60,
    requireSignedConnectLinks: true,
  },
};

/** A configuration that {@link resolveEnvironment} accepted, with the name it was chosen by. */
export interface ResolvedEnvironment {
  /** The name it was chosen by (a key of the environments map). */
  readonly envName: string;
  readonly config: EnvironmentConfig;
}

/** Thrown for an unknown or missing environment name, or a configuration that fails validation. */
export class EnvironmentConfigError extends Error {
  override readonly name = 'EnvironmentConfigError';
}

/**
 * Picks and validates the configuration named by `--context env=<name>`.
 *
 * @throws EnvironmentConfigError listing the valid names when `name` is missing or unknown, or
 * naming the field when the chosen configuration is invalid.
 */
export function resolveEnvironment(
  name: unknown,
  environments: Readonly<Record<string, EnvironmentConfig>> = ENVIRONMENTS,
): ResolvedEnvironment {
  const validNames = Object.keys(environments);
  if (typeof name !== 'string' || !Object.hasOwn(environments, name)) {
    const given =
      name === undefined ? 'no environment was given' : `unknown environment ${JSON.stringify(name)}`;
    throw new EnvironmentConfigError(
      `${given}: pass --context env=<name> with one of: ${validNames.join(', ')}`,
    );
  }
  const config = environments[name] as EnvironmentConfig;
  validateConfig(name, config);
  return { envName: name, config };
}

function validateConfig(envName: string, config: EnvironmentConfig): void {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };

  check(config.appName.trim().length > 0, 'appName is empty');
  // The functions' own bounds and patterns (lambdas/core/config.ts): what synthesises also starts.
  check(
    config.scopes.length > 0 && config.scopes.every((s) => SCOPE_PATTERN.test(s)),
    'scopes must be a non-empty list of scope tokens ([A-Za-z0-9._:-])',
  );
  check(
    Number.isInteger(config.flowTtlSeconds) &&
      config.flowTtlSeconds >= FLOW_TTL_SECONDS_BOUNDS.min &&
      config.flowTtlSeconds <= FLOW_TTL_SECONDS_BOUNDS.max,
    `flowTtlSeconds must be an integer between ${FLOW_TTL_SECONDS_BOUNDS.min} and ${FLOW_TTL_SECONDS_BOUNDS.max}`,
  );
  const companyCheckTimeoutMs = companyCheckTimeoutMsOf(config);
  check(
    Number.isInteger(companyCheckTimeoutMs) &&
      companyCheckTimeoutMs >= COMPANY_CHECK_TIMEOUT_BOUNDS.min &&
      companyCheckTimeoutMs <= COMPANY_CHECK_TIMEOUT_BOUNDS.max,
    `companyCheckTimeoutMs must be an integer between ${COMPANY_CHECK_TIMEOUT_BOUNDS.min} and ${COMPANY_CHECK_TIMEOUT_BOUNDS.max}`,
  );
  // The same bound the functions apply at start-up (lambdas/core/config.ts).
  const maxTokenTimeoutMs = maxTokenRequestTimeoutMs(companyCheckTimeoutMs);
  check(
    Number.isInteger(config.tokenRequestTimeoutMs) &&
      config.tokenRequestTimeoutMs >= MIN_TOKEN_REQUEST_MS &&
      config.tokenRequestTimeoutMs <= maxTokenTimeoutMs,
    `tokenRequestTimeoutMs must be between ${MIN_TOKEN_REQUEST_MS} and ${maxTokenTimeoutMs} so the exchange, ` +
      `the company check and the writes end inside the ${CALLBACK_TIMEOUT_SECONDS} s callback timeout`,
  );
  if (config.qboApiBaseUrl !== undefined) {
    const other = config.qboEnvironment === 'sandbox' ? 'production' : 'sandbox';
    check(
      isHttpsUrl(config.qboApiBaseUrl) &&
        new URL(config.qboApiBaseUrl).pathname === '/' &&
        new URL(config.qboApiBaseUrl).origin !== QBO_API_BASE_URLS[other],
      `qboApiBaseUrl must be an https host without a path, and not Intuit's ${other} host`,
    );
  }
  if (config.appReturnUrl !== undefined)
    check(isHttpsUrl(config.appReturnUrl), 'appReturnUrl must be an https URL');
  if (config.appSuccessUrl !== undefined)
    check(isHttpsUrl(config.appSuccessUrl), 'appSuccessUrl must be an https URL');
  if (config.appFailureUrl !== undefined)
    check(isHttpsUrl(config.appFailureUrl), 'appFailureUrl must be an https URL');
  if (config.appReconnectUrl !== undefined)
    check(isHttpsUrl(config.appReconnectUrl), 'appReconnectUrl must be an https URL');
  if (config.webhookUrl !== undefined)
    check(
      isHttpsUrl(config.webhookUrl) && new URL(config.webhookUrl).username === '',
      'webhookUrl must be an https URL without credentials',
    );
  if (config.alarmEmail !== undefined) {
    check(/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(config.alarmEmail), 'alarmEmail is not an email address');
  }
  if (config.customDomain !== undefined) {
    check(
      /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(
        config.customDomain.domainName,
      ),
      'customDomain.domainName must be a lower-case host name',
    );
    check(
      /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(
        config.customDomain.certificateArn,
      ),
      'customDomain.certificateArn must be an ACM certificate ARN',
    );
  }
  if (config.account !== undefined) check(/^\d{12}$/.test(config.account), 'account must be 12 digits');
  const { rateLimit, burstLimit } = config.throttling;
  check(
    rateLimit > 0 && burstLimit >= 1 && Number.isInteger(burstLimit),
    'throttling limits must be positive',
  );
  check(
    config.runbookUrl.length > 0 && !config.runbookUrl.includes('#'),
    'runbookUrl must be a URL without anchor',
  );
  const thresholds = config.alarmThresholds;
  for (const [key, value] of Object.entries(thresholds)) {
    // A gauge alarm fires strictly above its threshold, so 0 means "any".
    const least = key === 'connectionsReconnectRequired' ? 0 : 1;
    check(Number.isFinite(value) && value >= least, `alarmThresholds.${key} must be at least ${least}`);
  }
  for (const principal of config.apiCallerPrincipals) {
    check(
      API_CALLER_ACCOUNT.test(principal) || API_CALLER_ARN.test(principal),
      `apiCallerPrincipals: ${JSON.stringify(principal)} is neither a 12-digit account ID nor an IAM role or user ARN (arn:aws:iam::<account>:role/<name> or :user/<name>)`,
    );
  }
  check(
    new Set(config.apiCallerPrincipals).size === config.apiCallerPrincipals.length,
    'apiCallerPrincipals lists a principal twice',
  );
  if (config.apiCallerExternalId !== undefined) {
    check(
      EXTERNAL_ID.test(config.apiCallerExternalId),
      'apiCallerExternalId must be 2 to 1224 characters of letters, digits and +=,.@:/-_',
    );
  }
  const { min: minInterval, max: maxInterval } = KEEP_ALIVE_INTERVAL_MINUTES_BOUNDS;
  check(
    Number.isInteger(config.keepAliveIntervalMinutes) &&
      config.keepAliveIntervalMinutes >= minInterval &&
      config.keepAliveIntervalMinutes <= maxInterval,
    `keepAliveIntervalMinutes must be an integer between ${minInterval} and ${maxInterval}`,
  );

  if (problems.length > 0) {
    throw new EnvironmentConfigError(`environment ${envName} is misconfigured: ${problems.join('; ')}`);
  }
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * How many of the connections table's indexes to build, from `--context connectionIndexes=<n>`:
 * all when not given. CloudFormation adds at most one index to an existing table per update, so an
 * environment deployed before the indexes existed is upgraded by deploying with 1, 2, ... in turn
 * (docs/deploy.md).
 *
 * @throws EnvironmentConfigError when the value is not a whole number from 0 to `available`
 */
export function resolveConnectionIndexLimit(value: unknown, available: number): number {
  if (value === undefined) return available;
  // The CLI hands context over as a string; tests and cdk.json may give a number.
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
  const limit = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(limit >= 0 && limit <= available)) {
    throw new EnvironmentConfigError(
      `connectionIndexes must be a whole number from 0 to ${available} (the indexes to build), not ${JSON.stringify(value)}`,
    );
  }
  return limit;
}
