/**
 * `npm start`'s checks before anything starts: each mistake a newcomer makes ends in one line that
 * names the variable and the fix.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../lambdas/core/errors';
import {
  checkDynamoDbEndpoint,
  checkLocalSettings,
  describePortInUse,
  hostMismatchWarning,
  LocalStartupError,
} from '../../local/startup-checks';

function problem(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof LocalStartupError) return error.message;
    if (error instanceof ConfigError) return error.problems.join('; ');
    throw error;
  }
  throw new Error('expected a start-up problem');
}

async function asyncProblem(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof LocalStartupError) return error.message;
    throw error;
  }
  throw new Error('expected a start-up problem');
}

function listening(handler: Parameters<typeof createServer>[1] = (_req, res) => res.end()): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('checkLocalSettings', () => {
  it('accepts the defaults: port 3000, emulator, sandbox', () => {
    expect(checkLocalSettings({})).toEqual({ port: 3000 });
    expect(checkLocalSettings({ PORT: '0' })).toEqual({ port: 0 });
  });

  it.each(['abc', '-1', '70000', '3000x', ' 3000'])('refuses PORT=%j in one line naming PORT', (port) => {
    expect(problem(() => checkLocalSettings({ PORT: port }))).toBe(
      `PORT must be a port number from 0 to 65535, got "${port}"`,
    );
  });

  it.each([
    ['clientId', { QBO_CLIENT_ID: ' ABC', QBO_CLIENT_SECRET: 'secret' }],
    ['clientSecret', { QBO_CLIENT_ID: 'ABC', QBO_CLIENT_SECRET: 'secret\n' }],
  ])('refuses a %s with stray whitespace with the message the functions log', (field, env) => {
    expect(problem(() => checkLocalSettings(env))).toBe(
      `QBO_CLIENT_ID/QBO_CLIENT_SECRET ${field} has leading or trailing whitespace (a common copy-paste error)`,
    );
  });

  it('leaves placeholder keys to the handlers, which answer "not available yet" as a fresh deployment does', () => {
    expect(checkLocalSettings({ QBO_CLIENT_ID: 'REPLACE_ME', QBO_CLIENT_SECRET: 'REPLACE_ME' })).toEqual({
      port: 3000,
    });
  });

  it('says in one line that the emulator is sandbox-only when production has no keys', () => {
    const message = problem(() => checkLocalSettings({ QBO_ENVIRONMENT: 'production' }));
    expect(message).not.toContain('\n');
    expect(message).toMatch(/QBO_ENVIRONMENT=production: the built-in Intuit emulator is sandbox-only/);
  });

  it('says what to do with production keys and an http localhost redirect URI: an https tunnel', () => {
    const keys = { QBO_ENVIRONMENT: 'production', QBO_CLIENT_ID: 'ABC', QBO_CLIENT_SECRET: 'secret' };
    for (const env of [
      { ...keys, PORT: '3001' },
      { ...keys, PORT: '3001', QBO_REDIRECT_URI: 'http://localhost:3001/callback' },
    ]) {
      const message = problem(() => checkLocalSettings(env));
      expect(message).toMatch(/only https redirect URIs for Production keys, not http:\/\/localhost:3001/);
      expect(message).toMatch(/https tunnel to http:\/\/localhost:3001.*set QBO_REDIRECT_URI/);
    }
    expect(checkLocalSettings({ ...keys, QBO_REDIRECT_URI: 'https://tunnel.example.com/callback' })).toEqual({
      port: 3000,
    });
  });

  it.each(['http://localhost:3000/cb', 'http://localhost:3000/callback/', 'http://localhost:3000/'])(
    'refuses QBO_REDIRECT_URI=%s: the local server serves the callback at /callback only',
    (uri) => {
      expect(problem(() => checkLocalSettings({ QBO_REDIRECT_URI: uri }))).toMatch(
        /^QBO_REDIRECT_URI must end in \/callback, where npm start serves the callback \(got path "/,
      );
    },
  );
});

describe('checkDynamoDbEndpoint', () => {
  // That it accepts a real DynamoDB is an integration test (test/integration/local-start.test.ts).
  it('names DYNAMODB_ENDPOINT when nothing answers there', async () => {
    const server = await listening();
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const endpoint = `http://127.0.0.1:${port}`;
    expect(await asyncProblem(() => checkDynamoDbEndpoint(endpoint))).toBe(
      `DYNAMODB_ENDPOINT=${endpoint} does not answer (ECONNREFUSED): start DynamoDB there, ` +
        'or unset DYNAMODB_ENDPOINT and npm start runs DynamoDB Local itself',
    );
  });

  it('names DYNAMODB_ENDPOINT when something else than DynamoDB answers', async () => {
    const server = await listening((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hi</h1>'),
    );
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await asyncProblem(() => checkDynamoDbEndpoint(endpoint))).toMatch(
        new RegExp(`^DYNAMODB_ENDPOINT=${endpoint} answers, but not as DynamoDB \\(HTTP 200, `),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('names DYNAMODB_ENDPOINT when it is not a URL', async () => {
    expect(await asyncProblem(() => checkDynamoDbEndpoint('localhost:8000'))).toMatch(
      /^DYNAMODB_ENDPOINT must be an http\(s\) URL/,
    );
    expect(await asyncProblem(() => checkDynamoDbEndpoint('not a url'))).toMatch(
      /^DYNAMODB_ENDPOINT is not a URL/,
    );
  });
});

describe('describePortInUse', () => {
  it('names the process that holds the port, when it is not this connector', async () => {
    const server = await listening();
    const { port } = server.address() as AddressInfo;
    try {
      const line = describePortInUse(port);
      // Where neither /proc nor lsof can tell, the line still says what to do.
      const canTell = process.platform === 'linux' || spawnSync('lsof', ['-v']).error === undefined;
      if (canTell) expect(line).toMatch(new RegExp(`^Port ${port} is in use by pid ${process.pid} \\(`));
      expect(line).toMatch(/set PORT to a free port$/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('hostMismatchWarning', () => {
  it('warns when /connect is opened at 127.0.0.1 and the redirect URI says localhost', () => {
    expect(hostMismatchWarning('http://localhost:3000/callback', '127.0.0.1:3000')).toBe(
      'Warning: /connect was opened at 127.0.0.1 but the redirect URI is on localhost: the browser would ' +
        'not send the flow cookie back to the callback, so it was sent to http://localhost:3000/connect; ' +
        'open that address directly',
    );
  });

  it('warns when the flow starts on localhost but the redirect URI is an https tunnel', () => {
    expect(hostMismatchWarning('https://tunnel.example.com/callback', 'localhost:3000')).toMatch(
      /so it was sent to https:\/\/tunnel\.example\.com\/connect; open that address directly$/,
    );
  });

  it('stays quiet when the hosts agree', () => {
    expect(hostMismatchWarning('http://localhost:3000/callback', 'localhost:3000')).toBeUndefined();
    expect(hostMismatchWarning('https://tunnel.example.com/callback', 'tunnel.example.com')).toBeUndefined();
  });
});
