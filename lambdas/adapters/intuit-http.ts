/**
 * What the two Intuit clients share: one axios set-up (no redirects, no proxies, bodies parsed by
 * us, every status answered), and how a response or a transport error is read safely.
 */
import axios from 'axios';
import type { AxiosInstance, AxiosResponse } from 'axios';

/** Transport errors that prove the request never reached a server: safe to send once more. */
export const NEVER_LEFT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
/** Transport errors after which the request may have been processed (C3). */
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ERR_CANCELED']);

export function createIntuitHttp(): AxiosInstance {
  return axios.create({
    maxRedirects: 0,
    proxy: false,
    // A token response or CompanyInfo is a few KiB; a proxy or a misbehaving endpoint must not
    // stream megabytes into a 256 MB function before the timeout.
    maxContentLength: 64 * 1024,
    // Parse JSON ourselves: a body that is not JSON is a classified failure, not an exception.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
  });
}

/** `intuit_tid`, the id Intuit support asks for; kept only if it looks like one. */
export function intuitTidOf(response: AxiosResponse): string | undefined {
  const value: unknown = response.headers['intuit_tid'];
  return typeof value === 'string' && /^[\w.:-]{1,128}$/.test(value) ? value : undefined;
}

export function parseJson(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

/** The transport error's code (ECONNRESET, ...), searched through `cause`; free text never. */
export function transportErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code)) return code;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error ? transportErrorCode(cause) : undefined;
}

/** The code logged for a transport failure: TIMEOUT for every flavour of timeout. */
export function loggableTransportCode(code: string | undefined): string {
  if (code === undefined) return 'UNKNOWN';
  return TIMEOUT_CODES.has(code) ? 'TIMEOUT' : code;
}
