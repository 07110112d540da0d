/**
 * The load generator's parts: a browser-like GET (cookie, no automatic redirects, follows the
 * "finishing" page's refresh) over keep-alive connections that can be opened before a phase, a
 * concurrency pool, an RSS sampler and a stdout/stderr muffle that tallies the handlers' JSON log
 * codes instead of printing them.
 */
import { Agent, get } from 'node:http';

/** 'connected', 'failed', 'refused (400)', 'try again (503)', 'finishing (gave up)', or another status. */
export type Outcome = string;

export interface CallbackResult {
  /** From the first request to the final answer, refresh waits included (what a user waits). */
  readonly ms: number;
  readonly outcome: Outcome;
  /** "Finishing" pages followed with a re-GET after 500 ms. */
  readonly refreshes: number;
  /** HTTP requests sent: 1 + refreshes. */
  readonly requests: number;
}

const REFRESH_DELAY_MS = 500;
const MAX_REFRESHES = 20;

interface Answer {
  readonly status: number;
  readonly location: string | undefined;
  readonly body: string;
}

/**
 * Browsers, as the load generator plays them: keep-alive connections that stay open between
 * requests, so a phase can start on connections opened beforehand (`open`) instead of opening
 * C x K of them at once against one process, which measures the kernel's accept queue.
 */
export class LoadClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 8192 });

  /** Opens `count` connections to `baseUrl` (concurrent requests to a route that does not exist) and keeps them. */
  async open(baseUrl: string, count: number): Promise<number> {
    await Promise.all(Array.from({ length: count }, () => this.get(`${baseUrl}/bench-open-connection`)));
    return Object.values(this.agent.freeSockets).reduce((sum, sockets) => sum + (sockets?.length ?? 0), 0);
  }

  /** Like a browser: sends the cookie, does not follow redirects, and obeys a meta refresh. */
  async callback(url: string, cookie: string | undefined): Promise<CallbackResult> {
    const started = performance.now();
    let refreshes = 0;
    for (;;) {
      const response = await this.get(url, cookie);
      const refresh = response.status === 200 && /http-equiv="refresh"/i.test(response.body);
      if (refresh && refreshes < MAX_REFRESHES) {
        refreshes++;
        await new Promise((resolve) => setTimeout(resolve, REFRESH_DELAY_MS));
        continue;
      }
      return {
        ms: performance.now() - started,
        outcome: refresh ? 'finishing (gave up)' : classify(response.status, response.location ?? null),
        refreshes,
        requests: refreshes + 1,
      };
    }
  }

  /** Closes every connection (before the servers close). */
  close(): void {
    this.agent.destroy();
  }

  private async get(url: string, cookie?: string): Promise<Answer> {
    try {
      return await this.send(url, cookie);
    } catch (error) {
      // A kept connection the server closed as idle just as it was reused: what browsers retry too.
      if (error instanceof StaleConnectionError) return this.send(url, cookie);
      throw error;
    }
  }

  private send(url: string, cookie?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const request = get(
        url,
        { agent: this.agent, headers: cookie !== undefined ? { cookie } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              location: res.headers.location,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) =>
        reject(request.reusedSocket && error.code === 'ECONNRESET' ? new StaleConnectionError() : error),
      );
    });
  }
}

class StaleConnectionError extends Error {
  override readonly name = 'StaleConnectionError';
}

function classify(status: number, location: string | null): Outcome {
  if (status >= 300 && status < 400 && location !== null) {
    const kind = /\/outcome\/([a-z-]+)/.exec(location)?.[1];
    if (kind !== undefined) return kind;
    return `${status} -> ${location.split('?')[0] ?? ''}`;
  }
  if (status === 400) return 'refused (400)';
  if (status === 503) return 'try again (503)';
  return `HTTP ${status}`;
}

/** Runs `task` over `items` with at most `limit` in flight; results keep the items' order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** process.memoryUsage.rss() every `intervalMs`; peaks overall and since the last mark(). */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private overall = 0;
  private sinceMark = 0;

  constructor(private readonly intervalMs = 50) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Starts a new phase; returns the previous phase's peak. */
  mark(): number {
    this.sample();
    const peak = this.sinceMark;
    this.sinceMark = process.memoryUsage.rss();
    return peak;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.overall;
  }

  private sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.overall) this.overall = rss;
    if (rss > this.sinceMark) this.sinceMark = rss;
  }
}

type Write = typeof process.stdout.write;

/** The `code` field of a handler's JSON log line (registered codes are upper-case words). */
const LOG_CODE = /^\{.*?"code":"([A-Z][A-Z0-9_]*)"/gm;

/**
 * Swallows everything written to stdout and stderr while `work` runs (the handlers' JSON log and
 * EMF lines), counting log lines by their `code` field; tables are printed after it returns.
 */
export async function muffled<T>(
  work: () => Promise<T>,
): Promise<{ value: T; logCodes: Map<string, number> }> {
  const logCodes = new Map<string, number>();
  const originals: Array<[NodeJS.WriteStream, Write]> = [
    [process.stdout, process.stdout.write.bind(process.stdout)],
    [process.stderr, process.stderr.write.bind(process.stderr)],
  ];
  const swallow = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    // A regular expression, not JSON.parse: the load generator's own CPU is counted with the
    // connector's in a phase, and should stay small next to what it measures.
    for (const match of text.matchAll(LOG_CODE)) {
      const code = match[1]!;
      logCodes.set(code, (logCodes.get(code) ?? 0) + 1);
    }
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (callback !== undefined) process.nextTick(callback);
    return true;
  }) as Write;
  for (const [stream] of originals) stream.write = swallow;
  try {
    return { value: await work(), logCodes };
  } finally {
    for (const [stream, write] of originals) stream.write = write;
  }
}

/** Counts by name, with snapshots to take per-phase differences. */
export class Tally {
  private readonly counts = new Map<string, number>();

  add(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }

  since(before: ReadonlyMap<string, number>): Map<string, number> {
    const diff = new Map<string, number>();
    for (const [name, count] of this.counts) {
      const delta = count - (before.get(name) ?? 0);
      if (delta > 0) diff.set(name, delta);
    }
    return diff;
  }
}

export function total(counts: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const count of counts.values()) sum += count;
  return sum;
}

export function describeCounts(counts: ReadonlyMap<string, number>): string {
  if (counts.size === 0) return '-';
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
}
