/** The port contracts against the DynamoDB adapters on DynamoDB Local, tables from the shared schema. */
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionStore } from '../../lambdas/adapters/dynamodb-connection-store';
import { createDocumentClient } from '../../lambdas/adapters/dynamodb-client';
import { DynamoDbFlowLedger } from '../../lambdas/adapters/dynamodb-flow-ledger';
import { localTokenCipher } from '../../lambdas/adapters/encryption-sdk-token-cipher';
import { ensureTables, LOCAL_AWS } from '../../local/dynamodb-local';
import { connectionStoreContract } from '../contract/connection-store.contract';
import { flowLedgerContract } from '../contract/flow-ledger.contract';

const endpoint = process.env['DYNAMODB_ENDPOINT'] ?? '';
const tables = {
  flow: `c-${randomBytes(4).toString('hex')}-flows`,
  connection: `c-${randomBytes(4).toString('hex')}-connections`,
};
let client: DynamoDBDocumentClient;

beforeAll(async () => {
  await ensureTables(endpoint, tables);
  client = createDocumentClient({ ...LOCAL_AWS, endpoint });
});

afterAll(async () => {
  const raw = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  for (const table of [tables.flow, tables.connection])
    await raw.send(new DeleteTableCommand({ TableName: table }));
  raw.destroy();
  client.destroy();
});

const cipher = localTokenCipher({ key: randomBytes(32), environment: 'test' });

const subject = async () => ({
  ledger: new DynamoDbFlowLedger({
    client,
    flowTableName: tables.flow,
    connectionTableName: tables.connection,
    tokenEncrypter: cipher,
  }),
  connections: new DynamoDbConnectionStore({ client, tableName: tables.connection, cipher }),
});

flowLedgerContract('DynamoDB adapter on DynamoDB Local', subject);
connectionStoreContract('DynamoDB adapter on DynamoDB Local', subject);

describe('given a connection stored before grantedAt, status and companyName existed', () => {
  const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
  const legacy = (realmId: string) => ({
    realmId,
    accessToken: 'legacy-access',
    refreshToken: 'legacy-refresh',
    accessTokenExpiresAt: NOW + 3_600_000,
    refreshTokenExpiresAt: NOW + 8_726_400_000,
    connectedAt: NOW,
    qboEnvironment: 'sandbox',
    version: NOW,
  });

  it('reads it as ACTIVE with its connectedAt as the grant time, and leases it for refresh', async () => {
    const { connections } = await subject();
    await client.send(new PutCommand({ TableName: tables.connection, Item: legacy('5550000001') }));
    await expect(connections.get('5550000001')).resolves.toMatchObject({
      status: 'ACTIVE',
      grantedAt: NOW,
      connectedAt: NOW,
      version: NOW,
      tokens: { accessToken: 'legacy-access' },
    });
    await expect(connections.takeRefreshLease('5550000001', 'one', NOW, NOW + 1000)).resolves.toMatchObject({
      kind: 'taken',
    });
  });

  it('D5: a newer verified grant replaces it, an older one does not', async () => {
    const { ledger, connections } = await subject();
    for (const [realmId, grantedAt, expected] of [
      ['5550000002', NOW + 1, 'stored'],
      ['5550000003', NOW - 1, 'superseded'],
    ] as const) {
      await client.send(new PutCommand({ TableName: tables.connection, Item: legacy(realmId) }));
      const stateHash = `s${realmId}`.padEnd(64, '0');
      const codeHash = `k${realmId}`.padEnd(64, '0');
      await ledger.createFlow({ stateHash, createdAt: NOW, expiresAt: NOW + 900_000 });
      await ledger.claimCode({
        stateHash,
        codeHash,
        realmId,
        reference: 'R',
        now: NOW,
        leaseUntil: NOW + 1,
        retainUntil: NOW + 2,
      });
      await expect(
        ledger.recordConnection(codeHash, {
          realmId,
          grantedAt,
          accessToken: 'new-access',
          refreshToken: 'new-refresh',
          accessTokenExpiresAt: grantedAt + 1,
          refreshTokenExpiresAt: grantedAt + 2,
          qboEnvironment: 'sandbox',
          companyName: 'New Co',
        }),
      ).resolves.toBe(expected);
      const after = await connections.get(realmId);
      expect(after?.tokens?.accessToken).toBe(expected === 'stored' ? 'new-access' : 'legacy-access');
    }
  });
});
