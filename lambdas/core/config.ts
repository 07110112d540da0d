/**
 * Configuration, parsed and validated once, failing loudly and specifically.
 * The same validation serves Lambda (environment variables set by CDK, credentials from Secrets
 * Manager) and the local server (environment variables), so a mistake looks the same everywhere.
 */
import { QBO_API_BASE_URLS } from './company-info';
import { checkApiBaseUrl, checkEndpoint, checkRedirectUri, isHttpUrl } from './config-urls';
import { ConfigError } from './errors';
import {
  COMPANY_CHECK_TIMEOUT_BOUNDS,
  DEFAULT_COMPANY_CHECK_TIMEOUT_MS,
  DEFAULT_TOKEN_REQUEST_TIMEOUT_MS,
  maxTokenRequestTimeoutMs,
  MIN_TOKEN_REQUEST_MS,
} from './time-budget';

export type QboEnvironment = 'sandbox' | 'production';

/** Intuit's endpoints; identical for sandbox and production (docs/intuit.md). */
export const INTUIT_ENDPOINTS = {
  authorization: 'https://appcenter.intuit.com/connect/oauth2',
  token: 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer',
  revocation: 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke',
} as const;

/** Everything a handler needs except the client credentials, which live in Secrets Manager only (F3). */
export interface ServiceConfig {
  /** Deployment name (dev, prod, local): the `Environment` metric dimension. */
  readonly appEnv: string;
  /** Shown on every page. */
  readonly appName: string;
  readonly qboEnvironment: QboEnvironment;
  /** A3: a per-environment constant, never derived from request headers. */
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  /** Where a disconnect revokes the refresh token (D7). */
  readonly revocationEndpoint: string;
  /**
   * The accounting API host the company check (B6) calls, no path. @default by qboEnvironment:
   * https://sandbox-quickbooks.api.intuit.com or https://quickbooks.api.intuit.com
   */
  readonly qboApiBaseUrl: string;
  /** A2: how long a started flow may take to come back. */
  readonly flowTtlSeconds: number;
  /** C4: bound on one token request; sized inside the Lambda timeout. */
  readonly tokenRequestTimeoutMs: number;
  /** C4, B6: bound on the CompanyInfo request that verifies the company. @default 3000 */
  readonly companyCheckTimeoutMs: number;
  readonly flowTableName: string;
  readonly connectionTableName: string;
  /** A4: the only place the success page links to; configuration, never a request parameter. */
  readonly appReturnUrl?: string;
  /**
   * Where the callback sends the browser after a connection instead of the built-in success page
   * (with `?realmId=`). Configuration only, never a request parameter (A4). @default built-in page
   */
  readonly appSuccessUrl?: string;
  /**
   * Where the callback sends the browser after a failed or cancelled connection instead of the
   * built-in pages (with `?outcome=failed|cancelled` and, for failures, `&ref=`). @default built-in pages
   */
  readonly appFailureUrl?: string;
  /**
   * The app's page that signs the user in and mints a connect link, where /reconnect sends the
   * browser when signed links are required (with `?realmId=` as a hint). @default none: a page
   * that says to reconnect from the app
   */
  readonly appReconnectUrl?: string;
  /** A5, I1: /connect refuses a flow without a valid signed link. @default false */
  readonly requireSignedConnectLinks: boolean;
}

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly environment: QboEnvironment;
}

/** What the pages call the app when APP_NAME is not set (or configuration could not be read). */
export const DEFAULT_APP_NAME = 'QuickBooks connector';

/** The value CDK writes into a new secret; handlers refuse it (docs/security.md G5). */
export const PLACEHOLDER_CREDENTIAL = 'REPLACE_ME';

const DEFAULT_FLOW_TTL_SECONDS = 900;
/**
 * A2: longer than a code lives (~10 min) plus time at Intuit's login, at most an hour. The CDK
 * configuration checks the same bounds.
 */
export const FLOW_TTL_SECONDS_BOUNDS = { min: 60, max: 3600 } as const;
/** Scope tokens as Intuit spells them (no `/`, quotes or spaces); the CDK configuration checks the same. */
export const SCOPE_PATTERN = /^[A-Za-z0-9._:-]+$/;

type Env = Readonly<Record<string, string | undefined>>;

/** Parses the handler configuration from environment variables; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Env): ServiceConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      problems.push(`${name} is not set`);
      return '';
    }
    return value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const qboEnvironmentRaw = env['QBO_ENVIRONMENT'] ?? 'sandbox';
  let qboEnvironment: QboEnvironment = 'sandbox';
  if (qboEnvironmentRaw === 'sandbox' || qboEnvironmentRaw === 'production')
    qboEnvironment = qboEnvironmentRaw;
  else problems.push(`QBO_ENVIRONMENT must be "sandbox" or "production", got "${qboEnvironmentRaw}"`);

  const redirectUri = required('QBO_REDIRECT_URI');
  if (redirectUri !== '') problems.push(...checkRedirectUri(redirectUri, qboEnvironment));

  const scopes = (env['QBO_SCOPES'] ?? 'com.intuit.quickbooks.accounting').split(' ').filter((s) => s !== '');
  if (scopes.length === 0) problems.push('QBO_SCOPES must list at least one scope');
  for (const scope of scopes) {
    if (!SCOPE_PATTERN.test(scope)) problems.push(`QBO_SCOPES has an invalid scope "${scope}"`);
  }

  const endpoint = (name: string, fallback: string): string => {
    const value = env[name] ?? fallback;
    problems.push(...checkEndpoint(name, value, qboEnvironment));
    return value;
  };
  const authorizationEndpoint = endpoint('QBO_AUTHORIZATION_ENDPOINT', INTUIT_ENDPOINTS.authorization);
  const tokenEndpoint = endpoint('QBO_TOKEN_ENDPOINT', INTUIT_ENDPOINTS.token);
  const revocationEndpoint = endpoint('QBO_REVOCATION_ENDPOINT', INTUIT_ENDPOINTS.revocation);
  const qboApiBaseUrl = endpoint('QBO_API_BASE_URL', QBO_API_BASE_URLS[qboEnvironment]);
  problems.push(...checkApiBaseUrl(qboApiBaseUrl, qboEnvironment));
  const companyCheckTimeoutMs = integer(
    'COMPANY_CHECK_TIMEOUT_MS',
    DEFAULT_COMPANY_CHECK_TIMEOUT_MS,
    COMPANY_CHECK_TIMEOUT_BOUNDS.min,
    COMPANY_CHECK_TIMEOUT_BOUNDS.max,
  );

  const appUrl = (name: string): string | undefined => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    if (!isHttpUrl(value)) problems.push(`${name} must be an absolute http(s) URL, got "${value}"`);
    return value;
  };
  const appReturnUrl = appUrl('APP_RETURN_URL');
  const appSuccessUrl = appUrl('APP_SUCCESS_URL');
  const appFailureUrl = appUrl('APP_FAILURE_URL');
  const appReconnectUrl = appUrl('APP_RECONNECT_URL');
  const requireSignedRaw = env['REQUIRE_SIGNED_CONNECT_LINKS'] ?? '';
  if (!['', 'true', 'false'].includes(requireSignedRaw))
    problems.push(`REQUIRE_SIGNED_CONNECT_LINKS must be "true" or "false", got "${requireSignedRaw}"`);

  const config: ServiceConfig = {
    appEnv: required('APP_ENV'),
    appName: env['APP_NAME'] ?? DEFAULT_APP_NAME,
    qboEnvironment,
    redirectUri,
    scopes,
    authorizationEndpoint,
    tokenEndpoint,
    revocationEndpoint,
    qboApiBaseUrl,
    flowTtlSeconds: integer(
      'FLOW_TTL_SECONDS',
      DEFAULT_FLOW_TTL_SECONDS,
      FLOW_TTL_SECONDS_BOUNDS.min,
      FLOW_TTL_SECONDS_BOUNDS.max,
    ),
    // With the company check, the writes and the answer, it must fit the callback's timeout (C4).
    tokenRequestTimeoutMs: integer(
      'TOKEN_REQUEST_TIMEOUT_MS',
      DEFAULT_TOKEN_REQUEST_TIMEOUT_MS,
      MIN_TOKEN_REQUEST_MS,
      maxTokenRequestTimeoutMs(companyCheckTimeoutMs),
    ),
    companyCheckTimeoutMs,
    flowTableName: required('FLOW_TABLE_NAME'),
    connectionTableName: required('CONNECTION_TABLE_NAME'),
    ...(appReturnUrl !== undefined ? { appReturnUrl } : {}),
    ...(appSuccessUrl !== undefined ? { appSuccessUrl } : {}),
    ...(appFailureUrl !== undefined ? { appFailureUrl } : {}),
    ...(appReconnectUrl !== undefined ? { appReconnectUrl } : {}),
    requireSignedConnectLinks: requireSignedRaw === 'true',
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Validates client credentials from any source. `source` names where they came from so the message
 * says exactly what to fix ("secret quickbooks/prod has environment=sandbox but ..."). Never echoes
 * a credential value.
 */
export function validateCredentials(
  raw: unknown,
  expected: QboEnvironment,
  source: string,
): ClientCredentials {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([`${source} must be a JSON object with clientId, clientSecret and environment`]);
  }
  const record = raw as Record<string, unknown>;
  const problems: string[] = [];
  const text = (field: 'clientId' | 'clientSecret'): string => {
    const value = record[field];
    if (typeof value !== 'string' || value === '') {
      problems.push(`${source} has no ${field}`);
      return '';
    }
    if (value === PLACEHOLDER_CREDENTIAL) {
      problems.push(`${source} still holds the placeholder ${field}; put the app's ${expected} keys in it`);
    } else if (value.trim() !== value) {
      problems.push(`${source} ${field} has leading or trailing whitespace (a common copy-paste error)`);
    } else if (/\s/.test(value)) {
      problems.push(`${source} ${field} contains whitespace`);
    }
    return value;
  };
  const clientId = text('clientId');
  const clientSecret = text('clientSecret');
  const environment = record['environment'];
  if (environment !== 'sandbox' && environment !== 'production') {
    problems.push(`${source} environment must be "sandbox" or "production"`);
  } else if (environment !== expected) {
    problems.push(
      `${source} has environment=${environment} but this deployment expects ${expected}: ` +
        'Development keys work only with sandbox companies, Production keys only with real ones',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { clientId, clientSecret, environment: expected };
}

/** A source of client credentials (Secrets Manager in AWS, environment variables locally). */
export interface CredentialsSource {
  /**
   * Resolves validated credentials. Rejects with ConfigError when they are missing, placeholder or
   * invalid, and with CredentialsUnavailableError when the store cannot answer right now.
   * Implementations cache.
   */
  get(): Promise<ClientCredentials>;
  /**
   * Forgets the cached value, so the next get() reads the store afresh: after Intuit answers
   * invalid_client, keys rotated in Intuit's portal then work at once instead of after the cache.
   */
  invalidate(): void;
}
