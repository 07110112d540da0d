/**
 * `npm start`: the connector on this machine, with embedded defaults. No AWS account and no Intuit
 * keys needed: DynamoDB Local and the built-in Intuit emulator stand in. See README "Run it locally".
 */
import { ConfigError } from '../lambdas/core/errors';
import { JavaMissingError } from '../local/dynamodb-local';
import { startLocalStack } from '../local/server';

// Lambda runs Node.js 22; on a developer's Node.js 20 the AWS SDK's support notice is noise.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

async function main(): Promise<void> {
  const stack = await startLocalStack({ env: process.env });
  const intuit = stack.emulator !== undefined ? `Intuit emulator at ${stack.emulator.url}` : 'real Intuit';
  console.error(
    `Local connector: ${intuit}, DynamoDB at ${stack.dynamoDbEndpoint}, redirect URI ${stack.config.redirectUri}`,
  );
  console.log(`Ready: ${stack.connectUrl}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void stack.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof JavaMissingError) console.error(error.message);
  else if (error instanceof ConfigError) console.error(`Configuration problem: ${error.problems.join('; ')}`);
  else if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    console.error(`Port in use: set PORT to a free port (${error.message})`);
  } else console.error(error);
  process.exit(1);
});
