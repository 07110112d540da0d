/**
 * What `npm start` checks before it starts anything, so that a newcomer's mistake ends in one line
 * that names the variable and the fix, never in a `Ready:` line that fails later or a stack trace.
 * Called by bin/local.ts; the local stack itself (local/server.ts) stays free of these policies.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { PLACEHOLDER_CREDENTIAL, validateCredentials } from '../lambdas/core/config';
import { LOCAL_AWS } from './dynamodb-local';

type Env = Readonly<Record<string, string | undefined>>;

/** The path the local server answers the callback on (the same route as in API Gateway). */
export const LOCAL_CALLBACK_PATH = '/callback';

/** The name the local server's credentials go by in every message, as in the functions' logs. */
export const LOCAL_CREDENTIALS_SOURCE = 'QBO_CLIENT_ID/QBO_CLIENT_SECRET';

/** A start-up problem the operator fixes by changing one setting; `message` is the whole story. */
export class LocalStartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalStartupError';
  }
}

export interface LocalStartupSettings {
  /** The port to listen on; 0 picks a free one. */
  readonly port: number;
}

/**
 * Checks the settings that need no I/O: PORT, the Intuit environment against the emulator, the
 * redirect URI's path and scheme, and the credentials (through the functions' own validation, so
 * the message is the one a deployed function would log).
 *
 * @throws LocalStartupError for a setting `npm start` cannot work with
 * @throws ConfigError from validateCredentials for unusable credentials
 */
export function checkLocalSettings(env: Env): LocalStartupSettings {
  const port = parsePort(env['PORT']);
  const clientId = env['QBO_CLIENT_ID'];
  const clientSecret = env['QBO_CLIENT_SECRET'];
  const hasKeys = clientId !== undefined || clientSecret !== undefined;
  const qboEnvironment = env['QBO_ENVIRONMENT'] ?? 'sandbox';
  const redirectUri = env['QBO_REDIRECT_URI'];

  if (qboEnvironment === 'production' && !hasKeys) {
    throw new LocalStartupError(
      'QBO_ENVIRONMENT=production: the built-in Intuit emulator is sandbox-only; unset QBO_ENVIRONMENT, ' +
        "or set QBO_CLIENT_ID and QBO_CLIENT_SECRET to your app's Production keys",
    );
  }
  if (redirectUri !== undefined) {
    const path = pathOf(redirectUri);
    if (path !== undefined && path !== LOCAL_CALLBACK_PATH) {
      throw new LocalStartupError(
        `QBO_REDIRECT_URI must end in ${LOCAL_CALLBACK_PATH}, where npm start serves the callback ` +
          `(got path "${path}"); register that URI at Intuit and set QBO_REDIRECT_URI to it`,
      );
    }
  }
  if (
    qboEnvironment === 'production' &&
    hasKeys &&
    (redirectUri === undefined || redirectUri.startsWith('http:'))
  ) {
    const local = `http://localhost:${port === 0 ? 3000 : port}`;
    throw new LocalStartupError(
      `QBO_ENVIRONMENT=production: Intuit accepts only https redirect URIs for Production keys, not ${local}; ` +
        `run an https tunnel to ${local} (for example "cloudflared tunnel --url ${local}"), register ` +
        `https://<tunnel host>${LOCAL_CALLBACK_PATH} for your Production keys and set QBO_REDIRECT_URI to it`,
    );
  }
  // Placeholder keys are left to the handlers: they answer "not available yet" exactly as a
  // deployment whose secret was never filled in, which is worth seeing locally.
  const placeholderOnly = clientId === PLACEHOLDER_CREDENTIAL && clientSecret === PLACEHOLDER_CREDENTIAL;
  if (clientId !== undefined && clientSecret !== undefined && !placeholderOnly) {
    if (qboEnvironment === 'sandbox' || qboEnvironment === 'production') {
      validateCredentials(
        { clientId, clientSecret, environment: qboEnvironment },
        qboEnvironment,
        LOCAL_CREDENTIALS_SOURCE,
      );
    }
  }
  return { port };
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 3000;
  const port = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(port) || port > 65535) {
    throw new LocalStartupError(`PORT must be a port number from 0 to 65535, got "${raw}"`);
  }
  return port;
}

function pathOf(uri: string): string | undefined {
  try {
    return new URL(uri).pathname;
  } catch {
    // Not a URL at all: the functions' configuration check says so in its own words.
    return undefined;
  }
}

/**
 * Asks DYNAMODB_ENDPOINT for its tables once, so an endpoint that is down, or is not DynamoDB,
 * is named before anything else starts.
 *
 * @throws LocalStartupError naming DYNAMODB_ENDPOINT and what it answered
 */
export async function checkDynamoDbEndpoint(endpoint: string): Promise<void> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new LocalStartupError(
      `DYNAMODB_ENDPOINT is not a URL: "${endpoint}" (for example http://localhost:8000)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LocalStartupError(`DYNAMODB_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  }
  const client = new DynamoDBClient({
    ...LOCAL_AWS,
    endpoint,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 3000, requestTimeout: 5000, throwOnRequestTimeout: true },
  });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const code = (error as { code?: unknown }).code;
    const name = error instanceof Error ? error.name : 'UnknownError';
    const fix = 'start DynamoDB there, or unset DYNAMODB_ENDPOINT and npm start runs DynamoDB Local itself';
    if (status === undefined) {
      // The SDK may wrap a socket error from another realm, keeping its code only in the message.
      const message = error instanceof Error ? error.message : '';
      const why = typeof code === 'string' ? code : (/\b(E[A-Z]{3,})\b/.exec(message)?.[1] ?? name);
      throw new LocalStartupError(`DYNAMODB_ENDPOINT=${endpoint} does not answer (${why}): ${fix}`);
    }
    throw new LocalStartupError(
      `DYNAMODB_ENDPOINT=${endpoint} answers, but not as DynamoDB (HTTP ${status}, ${name}): ${fix}`,
    );
  } finally {
    client.destroy();
  }
}

/** The process listening on a TCP port, when this machine lets us see it. */
export interface PortHolder {
  readonly pid: number;
  readonly commandLine: string;
}

/**
 * The one line `npm start` prints when its port is taken, naming an earlier copy of this connector
 * (the usual case: a terminal left running) by its process id.
 */
export function describePortInUse(port: number): string {
  const holder = findPortHolder(port);
  if (holder === undefined) return `Port ${port} is in use: stop what holds it, or set PORT to a free port`;
  if (/bin[/\\]local\.ts/.test(holder.commandLine)) {
    return (
      `Port ${port} is held by an earlier copy of this connector (pid ${holder.pid}): ` +
      `stop it (Ctrl-C in its terminal, or kill ${holder.pid}), or set PORT to a free port`
    );
  }
  return `Port ${port} is in use by pid ${holder.pid} (${holder.commandLine.slice(0, 80)}): stop it, or set PORT to a free port`;
}

/** Linux: the listening socket's inode in /proc/net/tcp{,6}, then the process holding it; elsewhere lsof. */
export function findPortHolder(port: number): PortHolder | undefined {
  const pid = listeningPidFromProc(port) ?? listeningPidFromLsof(port);
  if (pid === undefined) return undefined;
  return { pid, commandLine: commandLineOf(pid) };
}

function listeningPidFromProc(port: number): number | undefined {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = fields;
      // State 0A is LISTEN.
      if (local?.endsWith(`:${hexPort}`) && state === '0A' && inode !== undefined) inodes.add(inode);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode !== undefined && inodes.has(inode)) return Number(pid);
      } catch {
        // the descriptor closed meanwhile
      }
    }
  }
  return undefined;
}

function listeningPidFromLsof(port: number): number | undefined {
  const lsof = spawnSync('lsof', ['-nP', '-t', `-iTCP:${port}`, '-sTCP:LISTEN'], { encoding: 'utf8' });
  if (lsof.error !== undefined || lsof.status !== 0) return undefined;
  const pid = Number(lsof.stdout.trim().split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    const ps = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim() : 'unknown command';
  }
}

/**
 * The warning for a flow started on another host name than the redirect URI's (127.0.0.1 versus
 * localhost, or localhost behind an https tunnel): the browser keeps the flow cookie per host, so
 * it would not send it back to the callback and the flow would end "expired or already used".
 *
 * @param hostHeader the request's Host header
 * @returns the line to print, or undefined when the hosts agree
 */
export function hostMismatchWarning(redirectUri: string, hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined) return undefined;
  let redirect: URL;
  let requested: URL;
  try {
    redirect = new URL(redirectUri);
    requested = new URL(`http://${hostHeader}`);
  } catch {
    return undefined;
  }
  if (requested.hostname === redirect.hostname) return undefined;
  return (
    `Warning: /connect was opened at ${requested.hostname} but the redirect URI is on ${redirect.hostname}: ` +
    `the browser would not send the flow cookie back to the callback, so it was sent to ${redirect.origin}/connect; ` +
    'open that address directly'
  );
}
