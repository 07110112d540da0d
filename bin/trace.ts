/**
 * `npm run trace -- --env <name> (--ref <reference> | --code-hash <prefix> | --realm <realmId>)
 * [--logs] [--hours 24] [--scan-limit 200000] [--json]`, or `--local` against the DynamoDB at
 * DYNAMODB_ENDPOINT: the story of one flow or company. See README "Operators' tools".
 */
import { operatorMessage } from './operator/environment';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EnvironmentConfigError, resolveEnvironment } from '../lib/config/environments';
import { LOCAL_AWS } from '../local/dynamodb-local';
import { awsErrorName, awsPorts, createAwsClients } from './operator/aws-ports';
import type { TraceQuery, TraceResult } from './operator/trace';
import {
  DeploymentMissingError,
  deployedTraceTargets,
  formatTrace,
  logsInsightsQuery,
  parseTraceQuery,
  TraceInputError,
  traceFromTables,
} from './operator/trace';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const USAGE =
  'usage: npm run trace -- --env <name> (--ref <reference> | --code-hash <prefix> | --realm <realmId>) [--logs] [--hours 24] [--scan-limit 200000] [--json]\n' +
  '       npm run trace -- --local [--table-prefix qbo-local] (--ref … | --code-hash … | --realm …) [--json]   (DynamoDB at DYNAMODB_ENDPOINT)\n';

class UsageError extends Error {}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      env: { type: 'string' },
      local: { type: 'boolean', default: false },
      'table-prefix': { type: 'string', default: 'qbo-local' },
      ref: { type: 'string' },
      'code-hash': { type: 'string' },
      realm: { type: 'string' },
      logs: { type: 'boolean', default: false },
      hours: { type: 'string', default: '24' },
      'scan-limit': { type: 'string', default: '200000' },
      json: { type: 'boolean', default: false },
    },
  });
  const lookups = (['ref', 'code-hash', 'realm'] as const).filter((name) => values[name] !== undefined);
  if (lookups.length !== 1 || (values.env === undefined) === !values.local) throw new UsageError();
  const lookup = lookups[0] as 'ref' | 'code-hash' | 'realm';
  const query: TraceQuery = parseTraceQuery(lookup === 'ref' ? 'reference' : lookup, values[lookup] ?? '');
  const hours = Number(values.hours);
  const scanLimit = Number(values['scan-limit']);
  if (!Number.isFinite(hours) || hours <= 0 || !Number.isInteger(scanLimit) || scanLimit <= 0)
    throw new UsageError();

  let result: TraceResult;
  if (values.local) {
    const endpoint = process.env['DYNAMODB_ENDPOINT'];
    if (endpoint === undefined || endpoint === '') {
      process.stderr.write(
        '--local reads the DynamoDB at DYNAMODB_ENDPOINT: start npm start with DYNAMODB_ENDPOINT set, and set it here too\n',
      );
      return 2;
    }
    const prefix = values['table-prefix'];
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ ...LOCAL_AWS, endpoint }));
    try {
      result = await traceFromTables(
        client,
        { flow: `${prefix}-flows`, connection: `${prefix}-connections` },
        query,
        { maxItemsScanned: scanLimit },
      );
    } finally {
      client.destroy();
    }
  } else {
    const { envName, config } = resolveEnvironment(values.env);
    const clients = createAwsClients(config.region);
    const aws = awsPorts(clients);
    const { tables, logGroups } = await deployedTraceTargets(aws.stacks, envName);
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient(config.region !== undefined ? { region: config.region } : {}),
    );
    try {
      result = await traceFromTables(client, tables, query, { maxItemsScanned: scanLimit });
    } finally {
      client.destroy();
    }
    if (values.logs) {
      const now = Date.now();
      const logs = await aws.insights.query(
        logGroups,
        logsInsightsQuery(query, result.flows),
        now - hours * 3_600_000,
        now,
      );
      result = { ...result, logs };
    }
  }
  process.stdout.write(
    values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatTrace(result, Date.now()).join('\n')}\n`,
  );
  const found = result.flows.length > 0 || result.connection !== undefined || (result.logs?.length ?? 0) > 0;
  return found ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (
      error instanceof UsageError ||
      (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(USAGE);
      process.exit(2);
    }
    if (error instanceof TraceInputError || error instanceof EnvironmentConfigError) {
      process.stderr.write(`${operatorMessage(error.message)}\n`);
      process.exit(2);
    }
    if (error instanceof DeploymentMissingError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    const region =
      error instanceof Error && /region is missing/i.test(error.message)
        ? ': set AWS_REGION or AWS_PROFILE'
        : '';
    process.stderr.write(`trace failed (${awsErrorName(error)})${region}\n`);
    process.exit(1);
  },
);
