/**
 * `npm run trace`: the story of one flow (by the reference a user quotes, or a code-hash prefix
 * from a log line) or of one company (realmId), from the flow table's ledger entries and states,
 * the connection's non-secret fields and, with `--logs`, the functions' log lines. Never a token,
 * a code or a state: the tables hold only their hashes, and the connection is read without tokens.
 *
 * Cost: the flow table has no index on reference or realmId (the callback never needs one), so a
 * lookup is a paginated Scan with a filter, bounded by `maxItemsScanned`. A Scan reads about one
 * read request unit per 8 KB; flow-table items are ~250 bytes and live about a day, so even at
 * 10,000 flows a day one trace reads a few hundred units (well under a cent on demand).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StackDirectory } from './aws-ports';
import { stackNames } from './aws-ports';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { REFERENCE_PATTERN } from '../../lambdas/core/flow-identifiers';

export type TraceQuery =
  | { readonly kind: 'reference'; readonly value: string }
  | { readonly kind: 'code-hash'; readonly value: string }
  | { readonly kind: 'realm'; readonly value: string };

/** Checks a lookup value against what the connector writes, so nothing else reaches a filter or a query. */
export function parseTraceQuery(kind: TraceQuery['kind'], raw: string): TraceQuery {
  const value = raw.trim();
  if (kind === 'reference') {
    const reference = value.toUpperCase();
    if (!REFERENCE_PATTERN.test(reference))
      throw new TraceInputError(
        '--ref takes the 8-character reference shown on a failure page, e.g. K7QM2ZPA',
      );
    return { kind, value: reference };
  }
  if (kind === 'code-hash') {
    const prefix = value.toLowerCase();
    if (!/^[0-9a-f]{8,64}$/.test(prefix))
      throw new TraceInputError(
        '--code-hash takes 8 to 64 hex characters of a codeHashPrefix from a log line',
      );
    return { kind, value: prefix };
  }
  if (!/^[0-9]{1,32}$/.test(value))
    throw new TraceInputError('--realm takes a QuickBooks company id (realmId): digits only');
  return { kind, value };
}

export class TraceInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceInputError';
  }
}

/** One authorization code's passage through the callback, from its ledger entry and its flow's state. */
export interface FlowStory {
  readonly codeHashPrefix: string;
  readonly reference: string;
  readonly realmId: string;
  readonly status: string;
  readonly reason?: string;
  readonly claimedAt: number;
  readonly leaseUntil: number;
  readonly stateHashPrefix: string;
  /** When /connect started the flow; absent when TTL already removed the state. */
  readonly startedAt?: number;
  readonly flowExpiresAt?: number;
}

/** The stored connection of a company, without its tokens. */
export interface ConnectionSummary {
  readonly realmId: string;
  readonly connectedAt?: number;
  readonly qboEnvironment?: string;
  readonly accessTokenExpiresAt?: number;
  readonly refreshTokenExpiresAt?: number;
  readonly refreshTokenHardExpiresAt?: number;
}

/** A log line as Logs Insights returns it: field name to value. */
export type LogRow = Readonly<Record<string, string>>;

export interface TraceResult {
  readonly query: TraceQuery;
  readonly flows: readonly FlowStory[];
  readonly connection?: ConnectionSummary;
  /** Flow-table items the Scan read. */
  readonly scanned: number;
  /** The Scan stopped at maxItemsScanned before the end of the table. */
  readonly truncated: boolean;
  readonly logs?: readonly LogRow[];
}

export interface TraceTables {
  readonly flow: string;
  readonly connection: string;
}

/** Attributes of the connection that are safe to print; the tokens are never requested. */
const CONNECTION_FIELDS = [
  'realmId',
  'connectedAt',
  'qboEnvironment',
  'accessTokenExpiresAt',
  'refreshTokenExpiresAt',
  'refreshTokenHardExpiresAt',
];

export async function traceFromTables(
  client: DynamoDBDocumentClient,
  tables: TraceTables,
  query: TraceQuery,
  options: { readonly maxItemsScanned?: number } = {},
): Promise<TraceResult> {
  const max = options.maxItemsScanned ?? 200_000;
  // Every attribute by alias: some of these names are DynamoDB reserved words.
  const filter =
    query.kind === 'reference'
      ? { FilterExpression: 'begins_with(#pk, :code) AND #reference = :value' }
      : query.kind === 'realm'
        ? { FilterExpression: 'begins_with(#pk, :code) AND #realmId = :value' }
        : { FilterExpression: 'begins_with(#pk, :value)' };
  const fields = ['pk', 'status', 'reason', 'reference', 'realmId', 'claimedAt', 'leaseUntil', 'stateHash'];
  const values =
    query.kind === 'code-hash'
      ? { ':value': `CODE#${query.value}` }
      : { ':code': 'CODE#', ':value': query.value };

  const entries: Array<Record<string, unknown>> = [];
  let scanned = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tables.flow,
        ...filter,
        ExpressionAttributeValues: values,
        ProjectionExpression: fields.map((field) => `#${field}`).join(', '),
        ExpressionAttributeNames: Object.fromEntries(fields.map((field) => [`#${field}`, field])),
        Limit: Math.min(1000, max - scanned),
        ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    scanned += page.ScannedCount ?? 0;
    entries.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined && scanned < max);

  const flows: FlowStory[] = [];
  for (const entry of entries) {
    const stateHash = textOf(entry['stateHash']);
    const state =
      stateHash === ''
        ? undefined
        : (
            await client.send(
              new GetCommand({
                TableName: tables.flow,
                Key: { pk: `STATE#${stateHash}` },
                ProjectionExpression: 'createdAt, expiresAt',
              }),
            )
          ).Item;
    flows.push({
      codeHashPrefix: String(entry['pk']).slice('CODE#'.length, 'CODE#'.length + 12),
      reference: textOf(entry['reference']),
      realmId: textOf(entry['realmId']),
      status: textOf(entry['status'], 'unknown'),
      ...(typeof entry['reason'] === 'string' ? { reason: entry['reason'] } : {}),
      claimedAt: Number(entry['claimedAt']),
      leaseUntil: Number(entry['leaseUntil']),
      stateHashPrefix: stateHash.slice(0, 12),
      ...(state?.['createdAt'] !== undefined ? { startedAt: Number(state['createdAt']) } : {}),
      ...(state?.['expiresAt'] !== undefined ? { flowExpiresAt: Number(state['expiresAt']) } : {}),
    });
  }
  flows.sort((a, b) => a.claimedAt - b.claimedAt);

  const realmId = query.kind === 'realm' ? query.value : flows.length === 1 ? flows[0]?.realmId : undefined;
  let connection: ConnectionSummary | undefined;
  if (realmId !== undefined && realmId !== '') {
    const out = await client.send(
      new GetCommand({
        TableName: tables.connection,
        Key: { realmId },
        ProjectionExpression: CONNECTION_FIELDS.map((_, i) => `#f${i}`).join(', '),
        ExpressionAttributeNames: Object.fromEntries(CONNECTION_FIELDS.map((field, i) => [`#f${i}`, field])),
      }),
    );
    if (out.Item !== undefined) connection = toConnectionSummary(out.Item);
  }
  return {
    query,
    flows,
    ...(connection !== undefined ? { connection } : {}),
    scanned,
    truncated: startKey !== undefined,
  };
}

function toConnectionSummary(item: Record<string, unknown>): ConnectionSummary {
  const number = (name: string) => (typeof item[name] === 'number' ? { [name]: item[name] } : {});
  return {
    realmId: String(item['realmId']),
    ...number('connectedAt'),
    ...(typeof item['qboEnvironment'] === 'string' ? { qboEnvironment: item['qboEnvironment'] } : {}),
    ...number('accessTokenExpiresAt'),
    ...number('refreshTokenExpiresAt'),
    ...number('refreshTokenHardExpiresAt'),
  };
}

/** The Logs Insights query for a trace: every line of the flow(s) or company, oldest first. */
export function logsInsightsQuery(query: TraceQuery, flows: readonly FlowStory[]): string {
  // Values were checked by parseTraceQuery or come from the table's own hashes and references.
  const conditions = new Set<string>();
  if (query.kind === 'reference') conditions.add(`reference = "${query.value}"`);
  if (query.kind === 'realm') conditions.add(`realmId = "${query.value}"`);
  if (query.kind === 'code-hash') conditions.add(`codeHashPrefix like /^${query.value.slice(0, 12)}/`);
  for (const flow of flows) {
    if (/^[0-9a-f]{12}$/.test(flow.codeHashPrefix))
      conditions.add(`codeHashPrefix = "${flow.codeHashPrefix}"`);
    if (REFERENCE_PATTERN.test(flow.reference)) conditions.add(`reference = "${flow.reference}"`);
  }
  return [
    'fields @timestamp, level, code, message, reference, codeHashPrefix, realmId, intuitTid, flowAgeMs, oauthError, status, reason',
    `| filter ${[...conditions].join(' or ')}`,
    '| sort @timestamp asc',
    '| limit 200',
  ].join('\n');
}

const iso = (ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? '–' : new Date(ms).toISOString();

/** The story as lines of text, oldest first. */
export function formatTrace(result: TraceResult, now: number): string[] {
  const lines: string[] = [];
  const what = { reference: 'reference', 'code-hash': 'code hash', realm: 'realm' }[result.query.kind];
  lines.push(
    `Trace of ${what} ${result.query.value}: ${result.flows.length} flow(s) in the ledger (${result.scanned} flow-table items scanned${result.truncated ? ', stopped at the scan limit: raise --scan-limit' : ''})`,
  );
  for (const flow of result.flows) {
    lines.push('');
    lines.push(`Flow ${flow.reference}  code hash ${flow.codeHashPrefix}…  realm ${flow.realmId}`);
    if (flow.startedAt !== undefined)
      lines.push(
        `  ${iso(flow.startedAt)}  /connect started the flow (state hash ${flow.stateHashPrefix}…), valid until ${iso(flow.flowExpiresAt)}`,
      );
    else lines.push(`  ${'–'.padEnd(24)}  the flow's state is gone (removed by TTL after its retention)`);
    const age =
      flow.startedAt !== undefined
        ? `, flow age ${((flow.claimedAt - flow.startedAt) / 1000).toFixed(1)} s`
        : '';
    lines.push(`  ${iso(flow.claimedAt)}  /callback claimed the code${age}`);
    lines.push(`  outcome: ${describeStatus(flow, now)}`);
  }
  if (result.connection !== undefined) {
    const c = result.connection;
    lines.push('');
    lines.push(
      `Connection of realm ${c.realmId}: connected ${iso(c.connectedAt)}, Intuit ${c.qboEnvironment ?? '?'}, access token until ${iso(c.accessTokenExpiresAt)}, refresh token until ${iso(c.refreshTokenExpiresAt)}` +
        (c.refreshTokenHardExpiresAt !== undefined
          ? ` (hard limit ${iso(c.refreshTokenHardExpiresAt)})`
          : ''),
    );
  } else if (result.query.kind === 'realm') {
    lines.push('', `No stored connection for realm ${result.query.value}.`);
  }
  if (result.logs !== undefined) {
    lines.push('', `Log lines (${result.logs.length}):`);
    for (const row of result.logs) {
      const extra = [
        'reference',
        'codeHashPrefix',
        'realmId',
        'intuitTid',
        'flowAgeMs',
        'oauthError',
        'status',
        'reason',
      ]
        .filter((field) => row[field] !== undefined && row[field] !== '')
        .map((field) => `${field}=${row[field]}`)
        .join(' ');
      lines.push(
        `  ${row['@timestamp'] ?? ''}  ${(row['level'] ?? '').padEnd(5)} ${(row['code'] ?? '').padEnd(30)} ${row['message'] ?? ''}  ${extra}`.trimEnd(),
      );
    }
  }
  if (
    result.flows.length === 0 &&
    result.connection === undefined &&
    (result.logs === undefined || result.logs.length === 0)
  ) {
    lines.push(
      '',
      'Nothing found. Ledger entries are kept about a day after their flow, then TTL removes them' +
        (result.logs === undefined
          ? '; --logs also searches the log lines (a reference shown without a code claim, e.g. "try again", is only there).'
          : '.'),
    );
  }
  return lines;
}

function describeStatus(flow: FlowStory, now: number): string {
  const reason = flow.reason !== undefined ? ` (${flow.reason})` : '';
  switch (flow.status) {
    case 'CONNECTED':
      return 'CONNECTED: code exchanged once, tokens stored';
    case 'FAILED':
      return `FAILED${reason}: Intuit refused the exchange or the tokens could not be kept; the user saw a failure page with this reference`;
    case 'UNKNOWN':
      return `UNKNOWN${reason}: the exchange may have reached Intuit; the code is treated as spent and the user asked to connect again`;
    case 'EXCHANGING':
      return flow.leaseUntil > now
        ? `EXCHANGING: in flight until ${iso(flow.leaseUntil)}`
        : `EXCHANGING, lease passed at ${iso(flow.leaseUntil)}: the claimant died; the next replay records UNKNOWN`;
    default:
      return flow.status;
  }
}

/** The environment to trace is not (fully) deployed where the operator's credentials point. */
export class DeploymentMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentMissingError';
  }
}

/** Where a deployed environment keeps what a trace reads. */
export interface DeployedTraceTargets {
  readonly tables: TraceTables;
  /** The functions' log groups (the API's access log holds no log codes). */
  readonly logGroups: readonly string[];
}

/**
 * Finds the environment's tables and log groups among its stacks' resources.
 *
 * @throws DeploymentMissingError when a stack or one of its resources is missing
 */
export async function deployedTraceTargets(
  stacks: StackDirectory,
  envName: string,
): Promise<DeployedTraceTargets> {
  const names = stackNames(envName);
  const [stateful, stateless] = await Promise.all([
    stacks.describe(names.stateful),
    stacks.describe(names.stateless),
  ]);
  if (stateful === undefined || stateless === undefined) {
    throw new DeploymentMissingError(
      `${names.stateful} or ${names.stateless} is not deployed in this account and region`,
    );
  }
  const table = (logicalPrefix: string) =>
    stateful.resources.find((r) => r.type === 'AWS::DynamoDB::Table' && r.logicalId.startsWith(logicalPrefix))
      ?.physicalId;
  const flow = table('FlowTable');
  const connection = table('ConnectionTable');
  if (flow === undefined || connection === undefined)
    throw new DeploymentMissingError(`${names.stateful} has no FlowTable or ConnectionTable`);
  const logGroups = stateless.resources
    .filter((r) => r.type === 'AWS::Logs::LogGroup' && !r.logicalId.startsWith('ApiAccessLogs'))
    .map((r) => r.physicalId);
  return { tables: { flow, connection }, logGroups };
}

/** An item attribute as text: strings and numbers as they are, anything else as the fallback. */
function textOf(value: unknown, fallback = ''): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : fallback;
}
