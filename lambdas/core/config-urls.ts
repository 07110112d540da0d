/**
 * The checks of configured URLs: the redirect URI as Intuit matches it, Intuit's endpoints and the
 * accounting API host. Each returns the problems it found, in words that say what to fix.
 */
import { QBO_API_BASE_URLS } from './company-info';
import type { QboEnvironment } from './config';

/** Intuit matches redirect URIs byte for byte, wants https, and allows http://localhost for sandbox keys only. */
export function checkRedirectUri(value: string, environment: QboEnvironment): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [`QBO_REDIRECT_URI is not an absolute URL: "${value}"`];
  }
  const problems: string[] = [];
  if (url.hash !== '' || value.includes('#')) problems.push('QBO_REDIRECT_URI must not contain a fragment');
  if (url.protocol === 'http:') {
    if (url.hostname !== 'localhost')
      problems.push('QBO_REDIRECT_URI must use https (http is allowed only for localhost)');
    else if (environment !== 'sandbox')
      problems.push(
        'QBO_REDIRECT_URI uses http://localhost, which Intuit accepts only for sandbox (Development) keys',
      );
  } else if (url.protocol !== 'https:') {
    problems.push(`QBO_REDIRECT_URI must use https, got "${url.protocol}"`);
  }
  if (/^[\d.]+$/.test(url.hostname) || url.hostname.startsWith('[')) {
    problems.push('QBO_REDIRECT_URI must use a host name: Intuit refuses IP addresses');
  }
  return problems;
}

/** Endpoints must be https; plain http only to a loopback emulator in sandbox. */
export function checkEndpoint(name: string, value: string, environment: QboEnvironment): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [`${name} is not an absolute URL: "${value}"`];
  }
  if (url.protocol === 'https:') return [];
  const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol === 'http:' && loopback && environment === 'sandbox') return [];
  return [`${name} must be an https URL (http only to a loopback emulator in sandbox), got "${value}"`];
}

/**
 * The API host is a base URL without a path or query (the check appends its own path), and in
 * production it must be Intuit's production host: sandbox keys cannot open real companies.
 */
export function checkApiBaseUrl(value: string, environment: QboEnvironment): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [];
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '')
    return [`QBO_API_BASE_URL must be a host without a path or query, got "${value}"`];
  const other: QboEnvironment = environment === 'sandbox' ? 'production' : 'sandbox';
  if (url.origin === QBO_API_BASE_URLS[other]) {
    return [
      `QBO_API_BASE_URL is Intuit's ${other} host but QBO_ENVIRONMENT is ${environment}: ` +
        `use ${QBO_API_BASE_URLS[environment]}`,
    ];
  }
  return [];
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
