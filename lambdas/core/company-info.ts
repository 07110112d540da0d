/**
 * The port to QuickBooks' CompanyInfo endpoint, the proof that a new access token belongs to the
 * company the callback URL names (docs/security.md B6, docs/design.md invariant 8). The realmId in the URL
 * is attacker-controlled and the token request names no realm, so an exchange succeeds whatever
 * realmId the URL carries: only a read with the new token can show whose company it opens.
 */
import type { QboEnvironment } from './config';

/** Intuit's fault code for a token that is valid but not authorised for this company. */
export const REALM_MISMATCH_FAULT = '003100';
/** Intuit's fault code for a token of one environment used on the other's API host. */
export const WRONG_CLUSTER_FAULT = '007001';

/** Intuit's accounting API hosts: sandbox keys only open sandbox companies, and the reverse. */
export const QBO_API_BASE_URLS: Readonly<Record<QboEnvironment, string>> = {
  sandbox: 'https://sandbox-quickbooks.api.intuit.com',
  production: 'https://quickbooks.api.intuit.com',
};

/** Intuit ignores minor versions below 75 since August 2025. */
export const COMPANY_INFO_MINOR_VERSION = 75;

/**
 * How the check ended:
 * - verified: 2xx with a CompanyInfo object: the token opens this company.
 * - mismatch: 403 with fault 003100: the token is for another company (a forged realmId).
 * - misconfigured: 401, or fault 007001: the API base URL or the environment does not match the
 *   keys; nothing says the realmId is forged, and nothing says it is not.
 * - unavailable: 5xx, 429, timeout, reset, or any other answer that proves nothing either way.
 */
export type CompanyCheck =
  | { readonly kind: 'verified'; readonly companyName: string; readonly intuitTid?: string }
  | ({ readonly kind: 'mismatch' | 'misconfigured' | 'unavailable' } & CompanyCheckDetails);

export interface CompanyCheckDetails {
  readonly status?: number;
  readonly intuitTid?: string;
  /** Intuit's fault code (digits only), e.g. 003100. */
  readonly faultCode?: string;
  /** A transport error code such as TIMEOUT or ECONNRESET. */
  readonly transportCode?: string;
}

export interface CompanyInfoEndpoint {
  /** Exactly one bounded request, never retried: a slow Intuit must not hold the callback. */
  checkCompany(realmId: string, accessToken: string, timeoutMs: number): Promise<CompanyCheck>;
}

/** The first fault code in an Intuit error body: `Fault.Error[].code`, or its lower-case 401 form. */
export function intuitFaultCode(body: unknown): string | undefined {
  const fault = field(body, 'Fault') ?? field(body, 'fault');
  const errors = field(fault, 'Error') ?? field(fault, 'error');
  if (!Array.isArray(errors)) return undefined;
  for (const error of errors as unknown[]) {
    const code = field(error, 'code');
    // Digits only: the code is logged, and free text from Intuit never is.
    if (typeof code === 'string' && /^\d{1,10}$/.test(code)) return code;
  }
  return undefined;
}

/** Classifies a CompanyInfo answer; `body` is the parsed JSON (or undefined). */
export function classifyCompanyInfo(
  status: number,
  body: unknown,
  intuitTid: string | undefined,
): CompanyCheck {
  const tid = intuitTid !== undefined ? { intuitTid } : {};
  if (status >= 200 && status < 300) {
    const name = field(field(body, 'CompanyInfo'), 'CompanyName');
    if (typeof name === 'string') return { kind: 'verified', companyName: safeCompanyName(name), ...tid };
    return { kind: 'unavailable', status, ...tid };
  }
  const faultCode = intuitFaultCode(body);
  const details = { status, ...tid, ...(faultCode !== undefined ? { faultCode } : {}) };
  // Intuit writes the same code with and without leading zeros (003200 and 3200): compare numbers.
  const fault = faultCode !== undefined ? Number(faultCode) : undefined;
  // Wrong cluster first: it is a configuration problem whatever status carries it.
  if (fault === Number(WRONG_CLUSTER_FAULT) || status === 401) return { kind: 'misconfigured', ...details };
  if (status === 403 && fault === Number(REALM_MISMATCH_FAULT)) return { kind: 'mismatch', ...details };
  return { kind: 'unavailable', ...details };
}

/** Control characters stripped and length bounded: the name reaches the app and the logs. */
function safeCompanyName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, 256);
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}
