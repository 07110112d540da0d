/**
 * `npm start`: the connector on this machine, with embedded defaults. No AWS account and no Intuit
 * keys needed: DynamoDB Local and the built-in Intuit emulator stand in. See README "Run it locally".
 *
 * stdout carries the `Ready:` line and the handlers' JSON log lines (as in Lambda); stderr carries
 * everything said to the person at the terminal: the start-up summary, warnings and start-up errors.
 */
import { ConfigError } from '../lambdas/core/errors';
import { CONNECT_PATH } from '../lambdas/handlers/web/paths';
import { JavaMissingError } from '../local/dynamodb-local';
import { startLocalStack } from '../local/server';
import type { LocalStack } from '../local/server';
import {
  checkDynamoDbEndpoint,
  checkLocalSettings,
  describePortInUse,
  hostMismatchWarning,
  LocalStartupError,
} from '../local/startup-checks';

// Lambda runs Node.js 22; on a developer's Node.js 20 the AWS SDK's support notice is noise.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** How long stopping may take before the process exits anyway (DynamoDB Local gets SIGKILL after 3 s). */
const STOP_DEADLINE_MS = 8000;

let port = 3000;
let stack: LocalStack | undefined;
let stopping = false;

function stop(): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
  void (stack?.close() ?? Promise.resolve()).then(() => process.exit(0));
}

// Ctrl-C, an IDE's stop button or a process manager (SIGTERM), a closed terminal (SIGHUP): the same
// orderly stop. Registered before anything starts, so a signal during start-up also cleans up.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);

async function main(): Promise<void> {
  const settings = checkLocalSettings(process.env);
  port = settings.port;
  const dynamoDbEndpoint = process.env['DYNAMODB_ENDPOINT'];
  if (dynamoDbEndpoint !== undefined && dynamoDbEndpoint !== '')
    await checkDynamoDbEndpoint(dynamoDbEndpoint);

  stack = await startLocalStack({
    env: process.env,
    port: settings.port,
    onRequest: (request) => {
      // Until start-up is done the server answers 503 and the redirect URI is not settled yet.
      const redirectUri = stack?.config.redirectUri;
      if (redirectUri === undefined || !(request.url ?? '').startsWith(CONNECT_PATH)) return;
      // The server sends such a browser to the right host; the line says why it happened.
      const warning = hostMismatchWarning(redirectUri, request.headers.host);
      if (warning !== undefined) console.error(warning);
    },
  });
  if (stopping) return;
  const intuit = stack.emulator !== undefined ? `Intuit emulator at ${stack.emulator.url}` : 'real Intuit';
  console.error(
    `Local connector: ${intuit}, DynamoDB at ${stack.dynamoDbEndpoint}, redirect URI ${stack.config.redirectUri}`,
  );
  console.log(`Ready: ${stack.connectUrl}`);
  // Printed once, only when generated: a key set in CONNECTOR_API_KEY is the caller's to know.
  if (stack.apiKeyGenerated) console.log(`API key: ${stack.apiKey}`);
  console.error(
    `App API at ${stack.url}/api/ (Authorization: Bearer <API key>); keep-alive every ${Math.round(stack.keepAliveIntervalMs / 1000)} s`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof JavaMissingError || error instanceof LocalStartupError) console.error(error.message);
  else if (error instanceof ConfigError) console.error(`Configuration problem: ${error.problems.join('; ')}`);
  else if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    console.error(describePortInUse(port));
  } else console.error(error);
  process.exit(1);
});
