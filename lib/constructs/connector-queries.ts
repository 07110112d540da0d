import { QueryDefinition, QueryString, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LOG_CODE_NAMES, type LogCode } from '../../lambdas/core/telemetry-codes';

/**
 * The fields of a connector log line worth seeing next to its code: enough to tell a stale code
 * (`flowAgeMs`), a redirect URI or environment mismatch (`redirectUri`, `qboEnvironment`,
 * `clientIdPrefix`), a double exchange (`codeHashPrefix`) and what to quote to Intuit (`intuitTid`).
 */
const LOG_FIELDS = [
  '@timestamp',
  'level',
  'code',
  'message',
  'reference',
  'codeHashPrefix',
  'stateHashPrefix',
  'flowAgeMs',
  'qboEnvironment',
  'redirectUri',
  'clientIdPrefix',
  'realmId',
  'intuitTid',
  'oauthError',
  'httpStatus',
  'transportCode',
  'reason',
  'operation',
  'awsError',
  'problems',
] as const;

/** The saved query of one log code, as it appears in CloudWatch Logs Insights' "Saved queries". */
export function logCodeQueryName(envName: string, code: LogCode): string {
  return `QboConnector-${envName}/${code}`;
}

/** The saved query that counts token exchanges per code hash: every count must be 1. */
export function codeExchangedTwiceQueryName(envName: string): string {
  return `QboConnector-${envName}/code-exchanged-twice`;
}

export interface ConnectorQueriesProps {
  readonly envName: string;
  /** The functions' log groups; every query searches all of them. */
  readonly logGroups: readonly ILogGroup[];
}

/**
 * One saved Logs Insights query per registered log code (newest first, with the fields above), plus
 * the double-exchange check, so on-call picks a query by name instead of typing one under pressure.
 * The runbook names them.
 */
export class ConnectorQueries extends Construct {
  readonly definitions: readonly QueryDefinition[];

  constructor(scope: Construct, id: string, props: ConnectorQueriesProps) {
    super(scope, id);
    const logGroups = [...props.logGroups];
    const perCode = LOG_CODE_NAMES.map(
      (code) =>
        new QueryDefinition(this, code, {
          queryDefinitionName: logCodeQueryName(props.envName, code),
          logGroups,
          queryString: new QueryString({
            fields: [...LOG_FIELDS],
            filterStatements: [`code = "${code}"`],
            sort: '@timestamp desc',
            limit: 200,
          }),
        }),
    );
    const exchangedTwice = new QueryDefinition(this, 'CodeExchangedTwice', {
      queryDefinitionName: codeExchangedTwiceQueryName(props.envName),
      logGroups,
      queryString: new QueryString({
        fields: ['codeHashPrefix'],
        filterStatements: ['ispresent(codeHashPrefix) and code like /^TOKEN_EXCHANGE_|^CALLBACK_CONNECTED$/'],
        statsStatements: ['count(*) as exchanges by codeHashPrefix'],
        // Most first: a first row above 1 is a code that reached Intuit twice, which must never happen.
        sort: 'exchanges desc',
        limit: 20,
      }),
    });
    this.definitions = [...perCode, exchangedTwice];
  }
}
