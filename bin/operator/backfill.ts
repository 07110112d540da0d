/**
 * The one-off backfill of connections stored before tokens were encrypted (docs/deploy.md
 * "Upgrading: seal stored tokens"): finds items that still hold plaintext tokens and seals and
 * indexes each through the same store method the first request would use (migrateLegacy, on the
 * version read and without changing it), so it can run while the service serves traffic.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionStore } from '../../lambdas/core/connection-store';
import { CONNECTION_TABLE } from '../../lambdas/core/table-schema';

export interface BackfillReport {
  /** Items scanned (DynamoDB's ScannedCount, all pages). */
  readonly scanned: number;
  /** Items that still held plaintext tokens. */
  readonly legacy: number;
  readonly sealed: number;
  /** Changed by someone else between the read and the write (a refresh, a reconnect): sealed by them. */
  readonly superseded: number;
  readonly failed: number;
}

export async function backfillLegacyConnections(
  deps: {
    readonly client: DynamoDBDocumentClient;
    readonly tableName: string;
    readonly store: ConnectionStore;
  },
  options: {
    readonly dryRun: boolean;
    readonly pageSize?: number;
    readonly onProgress?: (report: BackfillReport) => void;
  },
): Promise<BackfillReport> {
  const report = { scanned: 0, legacy: 0, sealed: 0, superseded: 0, failed: 0 };
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.client.send(
      new ScanCommand({
        TableName: deps.tableName,
        // Only the key leaves the table: the plaintext is read by the store, item by item.
        ProjectionExpression: '#realm',
        FilterExpression: 'attribute_exists(accessToken) OR attribute_exists(refreshToken)',
        ExpressionAttributeNames: { '#realm': CONNECTION_TABLE.partitionKey },
        Limit: options.pageSize ?? 200,
        ...(exclusiveStartKey !== undefined ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    report.scanned += page.ScannedCount ?? 0;
    for (const item of page.Items ?? []) {
      const realmId = String(item[CONNECTION_TABLE.partitionKey]);
      report.legacy += 1;
      if (options.dryRun) continue;
      try {
        const connection = await deps.store.get(realmId);
        if (connection?.legacy !== true) {
          report.superseded += 1;
          continue;
        }
        if ((await deps.store.migrateLegacy(connection)) === 'stored') report.sealed += 1;
        else report.superseded += 1;
      } catch {
        report.failed += 1;
      }
    }
    options.onProgress?.({ ...report });
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey !== undefined);
  return report;
}
