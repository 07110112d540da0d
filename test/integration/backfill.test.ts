/**
 * The operator's backfill (docs/deploy.md "Upgrading: seal stored tokens") on DynamoDB Local:
 * connections stored in plaintext before encryption are sealed and indexed with their version
 * unchanged, a dry run changes nothing, a second run finds nothing, and the service reads the
 * sealed items afterwards (H3).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { backfillLegacyConnections } from '../../bin/operator/backfill';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

let stack: TestStack;
let documents: DynamoDBDocumentClient;
const NOW = Date.now();
const LEGACY = ['7100000001', '7100000002', '7100000003'];
const plaintext = (realmId: string) => ({
  access: `legacy-access-${realmId}-canary`,
  refresh: `legacy-refresh-${realmId}-canary`,
});

beforeAll(async () => {
  stack = await startTestStack({ keepAliveIntervalMs: 0 });
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.dynamoDbEndpoint }),
  );
  for (const realmId of LEGACY) {
    await documents.send(
      new PutCommand({
        TableName: stack.tables.connection,
        Item: {
          realmId,
          // The oldest shape: no status, the grant time in version.
          version: NOW - 5000,
          connectedAt: NOW - 5000,
          qboEnvironment: 'sandbox',
          accessToken: plaintext(realmId).access,
          refreshToken: plaintext(realmId).refresh,
          accessTokenExpiresAt: NOW + 3_600_000,
          refreshTokenExpiresAt: NOW + 8_726_400_000,
        },
      }),
    );
  }
});

afterAll(async () => {
  documents?.destroy();
  await stack?.close();
});

const run = (dryRun: boolean) =>
  backfillLegacyConnections(
    { client: documents, tableName: stack.tables.connection, store: stack.connections() },
    { dryRun, pageSize: 2 },
  );

describe('the backfill of connections stored before encryption', () => {
  it('a dry run counts them and changes nothing', async () => {
    const before = await stack.allConnections();
    await expect(run(true)).resolves.toMatchObject({ legacy: 3, sealed: 0 });
    expect(await stack.allConnections()).toEqual(before);
  });

  it('H3: seals and indexes each one, keeps its version, and leaves no plaintext in the table', async () => {
    await expect(run(false)).resolves.toMatchObject({ legacy: 3, sealed: 3, failed: 0 });
    const items = await stack.allConnections();
    const text = JSON.stringify(items, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    for (const realmId of LEGACY) {
      expect(text).not.toContain(plaintext(realmId).access);
      expect(text).not.toContain(plaintext(realmId).refresh);
      const item = items.find((i) => i['realmId'] === realmId);
      expect(item).toMatchObject({ status: 'ACTIVE', version: NOW - 5000, keepAliveShard: 'active' });
      expect(item?.['sealedTokens']).toBeInstanceOf(Uint8Array);
    }
  });

  it('the service opens what it sealed, and a second run finds nothing to do', async () => {
    const connection = await stack.connections().get(LEGACY[0] ?? '');
    expect(connection?.tokens?.accessToken).toBe(plaintext(LEGACY[0] ?? '').access);
    expect(connection?.legacy).toBeUndefined();
    await expect(run(false)).resolves.toMatchObject({ legacy: 0, sealed: 0 });
  });
});
