/**
 * `npm run backfill-connections -- --env <name> [--dry-run]`, or `--local --table <name>` against the
 * DynamoDB at DYNAMODB_ENDPOINT with CONNECTOR_TOKEN_KEY: seals and indexes every connection stored
 * before tokens were encrypted. Safe to run while the service runs, and to run again. See
 * docs/deploy.md "Upgrading: seal stored tokens".
 */
import { parseArgs } from 'node:util';
import { DynamoDbConnectionStore } from '../lambdas/adapters/dynamodb-connection-store';
import { createDocumentClient } from '../lambdas/adapters/dynamodb-client';
import { kmsTokenCipher, localTokenCipher } from '../lambdas/adapters/encryption-sdk-token-cipher';
import type { TokenCipher } from '../lambdas/core/token-cipher';
import { LOCAL_AWS } from '../local/dynamodb-local';
import { FUNCTIONS } from '../lambdas/routes';
import { awsErrorName, awsPorts, createAwsClients, stackNames } from './operator/aws-ports';
import { backfillLegacyConnections } from './operator/backfill';
import { resolveOperatorEnvironment } from './operator/environment';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const USAGE =
  'usage: npm run backfill-connections -- --env <name> [--dry-run]\n' +
  '       npm run backfill-connections -- --local --table <connections table> [--dry-run]   (DYNAMODB_ENDPOINT, CONNECTOR_TOKEN_KEY)\n';

interface Target {
  readonly tableName: string;
  readonly cipher: TokenCipher;
  readonly endpoint?: string;
}

async function deployedTarget(envName: string, region: string | undefined): Promise<Target | undefined> {
  const ports = awsPorts(createAwsClients(region));
  const stateless = await ports.stacks.describe(stackNames(envName).stateless);
  const api = stateless?.resources.find(
    (r) => r.type === 'AWS::Lambda::Function' && r.logicalId.startsWith(FUNCTIONS.api.id),
  );
  if (api === undefined) {
    process.stderr.write(`The ${envName} stack has no token API function: deploy this version first.\n`);
    return undefined;
  }
  // The function's own settings: the backfill seals exactly as the deployed code would.
  const env = await ports.functions.environment(api.physicalId);
  const tableName = env['CONNECTION_TABLE_NAME'];
  const keyArn = env['TOKEN_KEY_ARN'];
  if (tableName === undefined || keyArn === undefined) {
    process.stderr.write('The token API function has no CONNECTION_TABLE_NAME or TOKEN_KEY_ARN.\n');
    return undefined;
  }
  return { tableName, cipher: kmsTokenCipher({ keyArn, environment: env['APP_ENV'] ?? envName }) };
}

function localTarget(table: string | undefined): Target | undefined {
  const endpoint = process.env['DYNAMODB_ENDPOINT'];
  const key = process.env['CONNECTOR_TOKEN_KEY'];
  if (table === undefined || endpoint === undefined || key === undefined) {
    process.stderr.write(
      '--local needs --table, DYNAMODB_ENDPOINT and CONNECTOR_TOKEN_KEY (the key npm start seals with)\n',
    );
    return undefined;
  }
  return {
    tableName: table,
    endpoint,
    cipher: localTokenCipher({
      key: Buffer.from(key, 'base64'),
      environment: process.env['APP_ENV'] ?? 'local',
    }),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      env: { type: 'string' },
      local: { type: 'boolean', default: false },
      table: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if ((values.env === undefined) === !values.local) {
    process.stderr.write(USAGE);
    return 2;
  }
  let target: Target | undefined;
  if (values.local) target = localTarget(values.table);
  else {
    const environment = resolveOperatorEnvironment(values.env);
    if (environment === undefined) return 2;
    target = await deployedTarget(environment.envName, environment.config.region);
  }
  if (target === undefined) return 2;
  const client = createDocumentClient(
    target.endpoint !== undefined ? { ...LOCAL_AWS, endpoint: target.endpoint } : {},
  );
  const store = new DynamoDbConnectionStore({ client, tableName: target.tableName, cipher: target.cipher });
  const report = await backfillLegacyConnections(
    { client, tableName: target.tableName, store },
    {
      dryRun: values['dry-run'],
      onProgress: (r) =>
        process.stderr.write(`scanned ${r.scanned}, plaintext ${r.legacy}, sealed ${r.sealed}\n`),
    },
  );
  client.destroy();
  process.stdout.write(
    `${values['dry-run'] ? 'Dry run: ' : ''}scanned ${report.scanned} connections; ${report.legacy} held plaintext tokens; ` +
      `${report.sealed} sealed, ${report.superseded} already changed by the service, ${report.failed} failed\n`,
  );
  return report.failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`backfill failed: ${awsErrorName(error)}\n`);
    process.exit(1);
  },
);
