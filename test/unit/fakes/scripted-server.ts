/** A tiny scripted HTTP server on 127.0.0.1 that records every request, for the Intuit clients' tests. */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Script = (request: Received, response: ServerResponse, raw: IncomingMessage) => void;

/** A tiny scripted HTTP server on 127.0.0.1 that records every request it receives. */
export class ScriptedServer {
  readonly requests: Received[] = [];
  private readonly server: Server;
  private constructor(script: Script) {
    this.server = createServer((raw, response) => {
      const chunks: Buffer[] = [];
      raw.on('data', (chunk: Buffer) => chunks.push(chunk));
      raw.on('end', () => {
        const request = {
          method: raw.method,
          url: raw.url,
          headers: raw.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(request);
        script(request, response, raw);
      });
    });
  }

  static async start(script: Script): Promise<ScriptedServer> {
    const scripted = new ScriptedServer(script);
    scripted.server.listen(0, '127.0.0.1');
    await once(scripted.server, 'listening');
    return scripted;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Script =>
  (_request, response) => {
    response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    response.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

/** A port nobody listens on: bind it, then close it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
