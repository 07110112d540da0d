/**
 * `npm run connect-link -- (--local [--url http://localhost:3000] | --env <name>) --tenant <id>
 * [--expires-in 300]`: mints a signed connect link through the app API, as the app would, and
 * prints its URL. Locally with the bearer key (CONNECTOR_API_KEY); in AWS signed with SigV4 by the
 * credentials of the default chain (they must be allowed execute-api:Invoke on /api/*: assume the
 * ApiCallerRole, e.g. with a profile whose role_arn is it). See README "Tenants and signed connect links".
 */
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ConnectorApiError, ConnectorClient } from '../client';
import type { ConnectorAuth } from '../client';
import { awsErrorName, awsPorts, createAwsClients, stackNames } from './operator/aws-ports';
import { resolveOperatorEnvironment } from './operator/environment';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const USAGE =
  'usage: npm run connect-link -- --local [--url http://localhost:3000] --tenant <id> [--expires-in 300]   (CONNECTOR_API_KEY)\n' +
  '       npm run connect-link -- --env <name> --tenant <id> [--expires-in 300]   (AWS credentials allowed to call /api/*)\n';

class UsageError extends Error {}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      env: { type: 'string' },
      local: { type: 'boolean', default: false },
      url: { type: 'string', default: 'http://localhost:3000' },
      tenant: { type: 'string' },
      'expires-in': { type: 'string' },
    },
  });
  const tenantId = values.tenant;
  if (tenantId === undefined || values.local === (values.env !== undefined)) throw new UsageError();
  const expiresIn = values['expires-in'];
  const expiresInSeconds = expiresIn === undefined ? undefined : Number(expiresIn);
  const target = values.local ? localTarget(values.url) : await deployedTarget(values.env ?? '');
  if (target === undefined) return 1;
  const client = new ConnectorClient({
    baseUrl: target.baseUrl,
    auth: target.auth,
    retry: { maxAttempts: 2 },
  });
  const link = await client.createConnectLink({
    tenantId,
    ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
  });
  process.stderr.write(`Link for tenant ${tenantId}, single use, until ${link.expiresAt.toISOString()}:\n`);
  process.stdout.write(`${link.url}\n`);
  return 0;
}

function localTarget(url: string): { baseUrl: string; auth: ConnectorAuth } | undefined {
  const apiKey = process.env['CONNECTOR_API_KEY'] ?? '';
  if (apiKey === '') {
    process.stderr.write('Set CONNECTOR_API_KEY to the key `npm start` printed (API key: …) or was given.\n');
    return undefined;
  }
  return { baseUrl: url, auth: { kind: 'bearer', apiKey } };
}

async function deployedTarget(name: string): Promise<{ baseUrl: string; auth: ConnectorAuth } | undefined> {
  const resolved = resolveOperatorEnvironment(name);
  if (resolved === undefined) return undefined;
  const clients = createAwsClients(process.env['AWS_REGION']);
  const stack = await awsPorts(clients).stacks.describe(stackNames(resolved.envName).stateless);
  const baseUrl = stack?.outputs['ApiBaseUrl'];
  if (baseUrl === undefined) {
    process.stderr.write(
      `No ApiBaseUrl output: is ${stackNames(resolved.envName).stateless} deployed in this account and region?\n`,
    );
    return undefined;
  }
  // The SDK's default chain and region, as the other operator tools use them.
  const sdk = new CloudFormationClient(
    process.env['AWS_REGION'] !== undefined ? { region: process.env['AWS_REGION'] } : {},
  );
  const region = await sdk.config.region();
  return { baseUrl, auth: { kind: 'sigv4', region, credentials: () => sdk.config.credentials() } };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) process.stderr.write(USAGE);
    else if (error instanceof ConnectorApiError) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`connect-link failed: ${awsErrorName(error)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
