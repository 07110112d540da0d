import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue, CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../../lambdas/adapters/dynamodb-client';
import { DynamoDbFlowLedger } from '../../../lambdas/adapters/dynamodb-flow-ledger';
import { localTokenCipher } from '../../../lambdas/adapters/encryption-sdk-token-cipher';
import { LeaseLostError, StorageUnavailableError } from '../../../lambdas/core/errors';
import type { NewConnection } from '../../../lambdas/core/connection-store';
import type { CodeClaim } from '../../../lambdas/core/flow-ledger';
import { KEEP_ALIVE_MARGIN_MS } from '../../../lambdas/core/token-budget';
import type { TokenEncrypter } from '../../../lambdas/core/token-cipher';
import { CipherUnavailableError } from '../../../lambdas/core/token-cipher';

const ddb = mockClient(DynamoDBDocumentClient);

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const STATE_HASH = 'a'.repeat(64);
const OTHER_STATE_HASH = 'b'.repeat(64);
const CODE_HASH = 'c'.repeat(64);
const OTHER_CODE_HASH = 'd'.repeat(64);
const CLAIM: CodeClaim = {
  stateHash: STATE_HASH,
  codeHash: CODE_HASH,
  realmId: '9341452211783456',
  reference: 'K7PQ2M9X',
  now: NOW,
  leaseUntil: NOW + 18_000,
  retainUntil: NOW + 86_400_000,
};

const stateItem = (fields: Record<string, unknown>) =>
  marshall({ pk: `STATE#${STATE_HASH}`, createdAt: NOW - 60_000, expiresAt: NOW + 840_000, ...fields });
const codeItem = (fields: Record<string, unknown> = {}) =>
  marshall({
    pk: `CODE#${CODE_HASH}`,
    status: 'EXCHANGING',
    stateHash: STATE_HASH,
    realmId: CLAIM.realmId,
    reference: 'FIRST234',
    claimedAt: NOW - 1000,
    leaseUntil: NOW + 17_000,
    ttl: 1,
    ...fields,
  });

function cancelled(...reasons: CancellationReason[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
    $metadata: {},
    CancellationReasons: reasons,
  });
}
const NONE: CancellationReason = { Code: 'None' };
const CONFLICT: CancellationReason = {
  Code: 'TransactionConflict',
  Message: 'Transaction is ongoing for the item',
};
const checkFailed = (item?: Record<string, AttributeValue>): CancellationReason => ({
  Code: 'ConditionalCheckFailed',
  Message: 'The conditional request failed',
  ...(item !== undefined ? { Item: item } : {}),
});

/** A real cipher with a local key: the callback's ledger only ever encrypts with it. */
const CIPHER = localTokenCipher({ key: randomBytes(32), environment: 'test' });

function ledger(tokenEncrypter: TokenEncrypter | 'none' = CIPHER): {
  ledger: DynamoDbFlowLedger;
  sleeps: number[];
} {
  const sleeps: number[] = [];
  return {
    sleeps,
    ledger: new DynamoDbFlowLedger({
      client: createDocumentClient({
        region: 'eu-west-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      }),
      flowTableName: 'flows',
      connectionTableName: 'connections',
      ...(tokenEncrypter !== 'none' ? { tokenEncrypter } : {}),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    }),
  };
}

function transactItems(call = 0): NonNullable<TransactWriteCommandInput['TransactItems']> {
  const input = ddb.commandCalls(TransactWriteCommand)[call]?.args[0].input;
  if (input?.TransactItems === undefined) throw new Error(`no TransactWriteCommand #${call}`);
  return input.TransactItems;
}

beforeEach(() => {
  ddb.reset();
});

/**
 * What DynamoDB Local cannot produce (throttling, TransactionConflict, a cancellation without the
 * old item, a commit whose answer was lost) and how each maps to the port's answers. The behaviour
 * DynamoDB Local can show is the port contract (test/contract), run against both.
 */
describe('DynamoDbFlowLedger', () => {
  describe('createFlow', () => {
    it('I1: with a link, puts the nonce (conditional, kept past the link) and the flow in one transaction', async () => {
      ddb.on(TransactWriteCommand).resolves({});
      await expect(
        ledger().ledger.createFlow({
          stateHash: STATE_HASH,
          createdAt: NOW,
          expiresAt: NOW + 900_000,
          tenantId: 'tenant-a',
          nonce: { hash: 'e'.repeat(64), expiresAt: NOW + 300_000 },
        }),
      ).resolves.toBe('created');
      const [nonce, state] = transactItems();
      expect(nonce?.Put).toMatchObject({
        TableName: 'flows',
        Item: { pk: `NONCE#${'e'.repeat(64)}`, stateHash: STATE_HASH },
        ConditionExpression: 'attribute_not_exists(pk)',
      });
      expect(Number(nonce?.Put?.Item?.['ttl'])).toBeGreaterThan((NOW + 300_000) / 1000);
      expect(state?.Put?.Item).toMatchObject({
        pk: `STATE#${STATE_HASH}`,
        status: 'PENDING',
        tenantId: 'tenant-a',
      });
      expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    });

    it('I1: a nonce already consumed answers nonce-used; another cancellation is storage trouble', async () => {
      ddb
        .on(TransactWriteCommand)
        .rejectsOnce(cancelled(checkFailed(), NONE))
        .rejectsOnce(cancelled(NONE, CONFLICT));
      const flow = {
        stateHash: STATE_HASH,
        createdAt: NOW,
        expiresAt: NOW + 900_000,
        tenantId: 'tenant-a',
        nonce: { hash: 'e'.repeat(64), expiresAt: NOW + 300_000 },
      };
      await expect(ledger().ledger.createFlow(flow)).resolves.toBe('nonce-used');
      await expect(ledger().ledger.createFlow(flow)).rejects.toBeInstanceOf(StorageUnavailableError);
    });

    it('G1: turns a throttling error into StorageUnavailableError', async () => {
      ddb
        .on(PutCommand)
        .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
      await expect(
        ledger().ledger.createFlow({ stateHash: STATE_HASH, createdAt: NOW, expiresAt: NOW + 1 }),
      ).rejects.toMatchObject({
        operation: 'createFlow',
        awsErrorName: 'ProvisionedThroughputExceededException',
      });
    });
  });

  describe('claimCode', () => {
    describe('given the state is PENDING and the code is new', () => {
      it('C1: consumes the state and claims the code in one TransactWriteCommand', async () => {
        ddb.on(TransactWriteCommand).resolves({});
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({ kind: 'claimed' });
        expect(ddb.calls()).toHaveLength(1);
        expect(transactItems()).toHaveLength(2);
      });
    });

    describe('given the transaction is cancelled', () => {
      it('C2: answers a replay with the old code entry (same state)', async () => {
        ddb
          .on(TransactWriteCommand)
          .rejects(
            cancelled(
              checkFailed(stateItem({ status: 'CONSUMED', codeHash: CODE_HASH })),
              checkFailed(codeItem({ status: 'FAILED', reason: 'invalid_grant' })),
            ),
          );
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({
          kind: 'replay',
          entry: {
            codeHash: CODE_HASH,
            stateHash: STATE_HASH,
            status: 'FAILED',
            leaseUntil: NOW + 17_000,
            reference: 'FIRST234',
            realmId: CLAIM.realmId,
            reason: 'invalid_grant',
          },
        });
        expect(ddb.calls()).toHaveLength(1);
      });

      it('reports a code already claimed under another state as code-reused', async () => {
        ddb
          .on(TransactWriteCommand)
          .rejects(
            cancelled(NONE, checkFailed(codeItem({ stateHash: OTHER_STATE_HASH, status: 'CONNECTED' }))),
          );
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({ kind: 'code-reused' });
      });

      it('B1: reports a state that does not exist (no old item) as state-not-found', async () => {
        ddb.on(TransactWriteCommand).rejects(cancelled(checkFailed(), NONE));
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({ kind: 'state-not-found' });
      });

      it('B1: reports a PENDING state whose expiresAt has passed as state-expired', async () => {
        ddb
          .on(TransactWriteCommand)
          .rejects(cancelled(checkFailed(stateItem({ status: 'PENDING', expiresAt: NOW })), NONE));
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({ kind: 'state-expired' });
      });

      it('B1: reports a state consumed by another code as state-used', async () => {
        ddb
          .on(TransactWriteCommand)
          .rejects(
            cancelled(checkFailed(stateItem({ status: 'CONSUMED', codeHash: OTHER_CODE_HASH })), NONE),
          );
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({
          kind: 'state-used',
          cancelled: false,
        });
      });

      it('B1: reports a cancelled state as state-used (cancelled)', async () => {
        ddb
          .on(TransactWriteCommand)
          .rejects(cancelled(checkFailed(stateItem({ status: 'CANCELLED' })), NONE));
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({
          kind: 'state-used',
          cancelled: true,
        });
      });

      it('C2: reads the code entry when the state was consumed by this code but the entry was not returned', async () => {
        ddb
          .on(TransactWriteCommand)
          .rejects(cancelled(checkFailed(stateItem({ status: 'CONSUMED', codeHash: CODE_HASH })), NONE));
        ddb.on(GetCommand).resolves({
          Item: {
            pk: `CODE#${CODE_HASH}`,
            status: 'CONNECTED',
            stateHash: STATE_HASH,
            leaseUntil: 1,
            reference: 'FIRST234',
            realmId: '1',
          },
        });
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toMatchObject({
          kind: 'replay',
          entry: { status: 'CONNECTED', reference: 'FIRST234' },
        });
        expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
          TableName: 'flows',
          Key: { pk: `CODE#${CODE_HASH}` },
          ConsistentRead: true,
        });
      });
    });

    describe('given a concurrent duplicate holds the items (TransactionConflict)', () => {
      it('C1: waits, reads the ledger and answers as a replay once the winner is visible', async () => {
        ddb.on(TransactWriteCommand).rejects(cancelled(CONFLICT, CONFLICT));
        ddb.on(GetCommand).resolves({ Item: unmarshalledCodeItem() });
        const { ledger: l, sleeps } = ledger();

        await expect(l.claimCode(CLAIM)).resolves.toMatchObject({
          kind: 'replay',
          entry: { status: 'EXCHANGING' },
        });

        expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
        expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
        expect(sleeps).toHaveLength(1);
      });

      it('retries the claim when the ledger shows nothing yet, and wins', async () => {
        ddb.on(TransactWriteCommand).rejectsOnce(cancelled(CONFLICT, NONE)).resolves({});
        ddb.on(GetCommand).resolves({});
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({ kind: 'claimed' });
        expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
        expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
      });

      it('G1: gives up after a bounded number of attempts with StorageUnavailableError', async () => {
        ddb.on(TransactWriteCommand).rejects(cancelled(CONFLICT, NONE));
        ddb.on(GetCommand).resolves({});
        const { ledger: l, sleeps } = ledger();
        await expect(l.claimCode(CLAIM)).rejects.toMatchObject({
          name: 'StorageUnavailableError',
          operation: 'claimCode',
          awsErrorName: 'TransactionConflict',
        });
        const attempts = ddb.commandCalls(TransactWriteCommand).length;
        expect(attempts).toBeGreaterThanOrEqual(2);
        expect(attempts).toBeLessThanOrEqual(10);
        // Between two attempts: one backoff and one ledger read.
        expect(ddb.commandCalls(GetCommand)).toHaveLength(attempts - 1);
        expect(sleeps).toHaveLength(attempts - 1);
        // C4: the whole backoff fits well inside the callback Lambda's timeout.
        expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThan(5000);
      });

      it('answers code-reused when the visible winner claimed the code under another state', async () => {
        ddb.on(TransactWriteCommand).rejects(cancelled(CONFLICT, CONFLICT));
        ddb.on(GetCommand).resolves({ Item: { ...unmarshalledCodeItem(), stateHash: OTHER_STATE_HASH } });
        await expect(ledger().ledger.claimCode(CLAIM)).resolves.toEqual({ kind: 'code-reused' });
      });
    });

    describe('given DynamoDB throttles (G1)', () => {
      it('G1: throws StorageUnavailableError carrying only the error name', async () => {
        const sdkMessage = 'Rate exceeded for table flows; request had code CANARY-CODE-1234';
        ddb
          .on(TransactWriteCommand)
          .rejects(new ProvisionedThroughputExceededException({ message: sdkMessage, $metadata: {} }));

        const error: unknown = await ledger()
          .ledger.claimCode(CLAIM)
          .catch((e: unknown) => e);

        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect(error).toMatchObject({
          operation: 'claimCode',
          awsErrorName: 'ProvisionedThroughputExceededException',
        });
        expect((error as Error).message).not.toContain('CANARY');
        expect(JSON.stringify(error)).not.toContain('CANARY');
        expect(Object.keys(error as object)).not.toContain('cause');
      });

      it('G1: maps a generic ThrottlingException too', async () => {
        ddb
          .on(TransactWriteCommand)
          .rejects(Object.assign(new Error('Throttled'), { name: 'ThrottlingException' }));
        await expect(ledger().ledger.claimCode(CLAIM)).rejects.toMatchObject({
          awsErrorName: 'ThrottlingException',
        });
      });
    });
  });

  describe('cancelFlow', () => {
    it.each([
      ['state-not-found', undefined],
      ['already-cancelled', stateItem({ status: 'CANCELLED' })],
      ['state-used', stateItem({ status: 'CONSUMED', codeHash: CODE_HASH })],
      ['state-expired', stateItem({ status: 'PENDING', expiresAt: NOW - 1 })],
    ])('answers %s from the old item of a failed condition', async (expected, item) => {
      ddb.on(UpdateCommand).rejects(
        new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
          ...(item !== undefined ? { Item: item } : {}),
        }),
      );
      await expect(ledger().ledger.cancelFlow(STATE_HASH, NOW)).resolves.toBe(expected);
    });

    it('G1: turns other errors into StorageUnavailableError', async () => {
      ddb
        .on(UpdateCommand)
        .rejects(new ProvisionedThroughputExceededException({ message: 'x', $metadata: {} }));
      await expect(ledger().ledger.cancelFlow(STATE_HASH, NOW)).rejects.toBeInstanceOf(
        StorageUnavailableError,
      );
    });
  });

  describe('readEntry', () => {
    it('reads the code entry strongly consistently', async () => {
      ddb.on(GetCommand).resolves({ Item: unmarshalledCodeItem() });
      await expect(ledger().ledger.readEntry(CODE_HASH)).resolves.toEqual({
        codeHash: CODE_HASH,
        stateHash: STATE_HASH,
        status: 'EXCHANGING',
        leaseUntil: NOW + 17_000,
        reference: 'FIRST234',
        realmId: CLAIM.realmId,
      });
      expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.ConsistentRead).toBe(true);
    });

    it('returns undefined for an unknown code', async () => {
      ddb.on(GetCommand).resolves({});
      await expect(ledger().ledger.readEntry(CODE_HASH)).resolves.toBeUndefined();
    });
  });

  describe('recordFailure', () => {
    it('leaves an outcome already recorded alone and reports it (ConditionalCheckFailed with ALL_OLD)', async () => {
      ddb.on(UpdateCommand).rejects(
        new ConditionalCheckFailedException({
          message: 'no',
          $metadata: {},
          Item: marshall({ ...unmarshalledCodeItem(), status: 'CONNECTED' }),
        }),
      );
      await expect(ledger().ledger.recordFailure(CODE_HASH, 'UNKNOWN', 'lease_expired')).resolves.toBe(
        'CONNECTED',
      );
      expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ReturnValuesOnConditionCheckFailure).toBe(
        'ALL_OLD',
      );
    });

    it('reports the status it recorded', async () => {
      ddb.on(UpdateCommand).resolves({});
      await expect(ledger().ledger.recordFailure(CODE_HASH, 'FAILED', 'invalid_grant')).resolves.toBe(
        'FAILED',
      );
    });

    it('G1: turns other errors into StorageUnavailableError', async () => {
      ddb
        .on(UpdateCommand)
        .rejects(new ProvisionedThroughputExceededException({ message: 'x', $metadata: {} }));
      await expect(ledger().ledger.recordFailure(CODE_HASH, 'FAILED', 'invalid_grant')).rejects.toMatchObject(
        {
          operation: 'recordFailure',
        },
      );
    });
  });

  describe('recordConnection', () => {
    const connection: NewConnection = {
      realmId: CLAIM.realmId,
      accessToken: 'access',
      refreshToken: 'refresh',
      accessTokenExpiresAt: NOW + 3_600_000,
      refreshTokenExpiresAt: NOW + 8_726_400_000,
      grantedAt: NOW,
      qboEnvironment: 'sandbox',
      companyName: 'Canary Bakery LLC',
    };

    it('sends the same ClientRequestToken and byte-identical items on every attempt, so a retry after a lost answer is acknowledged', async () => {
      ddb.on(TransactWriteCommand).resolves({});
      const { ledger: l } = ledger();
      await l.recordConnection(CODE_HASH, connection);
      await l.recordConnection(CODE_HASH, connection);
      const tokens = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.ClientRequestToken);
      expect(tokens[0]).toMatch(/^[0-9a-f]{36}$/);
      expect(tokens[1]).toBe(tokens[0]);
      // DynamoDB acknowledges a repeated token only if every parameter is the same: one ciphertext.
      expect(transactItems(1)).toEqual(transactItems(0));
      await l.recordConnection('f'.repeat(64), connection);
      expect(ddb.commandCalls(TransactWriteCommand)[2]?.args[0].input.ClientRequestToken).not.toBe(tokens[0]);
    });

    it('H3: writes the tokens sealed for this company, never in plaintext, with the keep-alive index keys', async () => {
      ddb.on(TransactWriteCommand).resolves({});
      await ledger().ledger.recordConnection(CODE_HASH, connection);
      const update = transactItems()[0]?.Update;
      const values = update?.ExpressionAttributeValues ?? {};
      const sealed: unknown = values[':sealedTokens'];
      expect(sealed).toBeInstanceOf(Uint8Array);
      await expect(CIPHER.decrypt(connection.realmId, sealed as Uint8Array)).resolves.toEqual({
        accessToken: 'access',
        refreshToken: 'refresh',
      });
      expect(update?.UpdateExpression).toContain('sealedTokens = :sealedTokens');
      expect(values).toMatchObject({
        ':keepAliveShard': 'active',
        ':refreshDueAt': connection.refreshTokenExpiresAt - KEEP_ALIVE_MARGIN_MS,
        ':accessTokenExpiresAt': connection.accessTokenExpiresAt,
        ':refreshTokenExpiresAt': connection.refreshTokenExpiresAt,
      });
      expect(update?.UpdateExpression).toMatch(/keepAliveShard = :keepAliveShard/);
      expect(update?.UpdateExpression).toMatch(/refreshDueAt = :refreshDueAt/);
      // No plaintext token anywhere in the request; the legacy plaintext attributes are removed.
      const request = JSON.stringify(transactItems(), (_key, value: unknown) =>
        value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
      );
      expect(request).not.toContain('"access"');
      expect(request).not.toContain('"refresh"');
      expect(update?.UpdateExpression).toMatch(/REMOVE .*accessToken, refreshToken/);
    });

    it("a ledger without a token encrypter (the connect function's) refuses to record a connection and writes nothing", async () => {
      ddb.on(TransactWriteCommand).resolves({});
      await expect(ledger('none').ledger.recordConnection(CODE_HASH, connection)).rejects.toThrow(
        /no token encrypter/,
      );
      expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    });

    it('G1: a key service that cannot answer is StorageUnavailableError with nothing written, and the next attempt encrypts again', async () => {
      ddb.on(TransactWriteCommand).resolves({});
      let calls = 0;
      const flaky: TokenEncrypter = {
        encrypt: async (realmId, secrets) => {
          calls += 1;
          if (calls === 1) throw new CipherUnavailableError('encrypt');
          return CIPHER.encrypt(realmId, secrets);
        },
      };
      const { ledger: l } = ledger(flaky);
      await expect(l.recordConnection(CODE_HASH, connection)).rejects.toMatchObject({
        name: 'StorageUnavailableError',
        operation: 'sealTokens',
      });
      expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
      await expect(l.recordConnection(CODE_HASH, connection)).resolves.toBe('stored');
      expect(calls).toBe(2);
    });

    it('treats a code already CONNECTED (an earlier attempt committed) as stored', async () => {
      ddb
        .on(TransactWriteCommand)
        .rejects(cancelled(NONE, checkFailed(marshall({ ...unmarshalledCodeItem(), status: 'CONNECTED' }))));
      await expect(ledger().ledger.recordConnection(CODE_HASH, connection)).resolves.toBe('stored');
      expect(transactItems()[1]?.Update?.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
    });

    it('D5: never overwrites a newer connection; keeps it, marks the code CONNECTED and says superseded', async () => {
      ddb.on(TransactWriteCommand).rejects(cancelled(checkFailed(), NONE));
      ddb.on(UpdateCommand).resolves({});
      await expect(ledger().ledger.recordConnection(CODE_HASH, connection)).resolves.toBe('superseded');
      // The code is still marked CONNECTED, by a separate update.
      expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.Key).toEqual({ pk: `CODE#${CODE_HASH}` });
    });

    it('B7: asks for the refused connection item, and a company bound to another tenant is bound-to-other-tenant: nothing else written', async () => {
      ddb
        .on(TransactWriteCommand)
        .rejects(
          cancelled(
            checkFailed(marshall({ realmId: CLAIM.realmId, tenantId: 'tenant-a', grantedAt: NOW - 1 })),
            NONE,
          ),
        );
      await expect(
        ledger().ledger.recordConnection(CODE_HASH, { ...connection, tenantId: 'tenant-b' }),
      ).resolves.toBe('bound-to-other-tenant');
      expect(transactItems()[0]?.Update?.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
      expect(transactItems()[0]?.Update?.ConditionExpression).toContain('tenantId = :tenantId');
      // The code stays EXCHANGING for the callback to record as FAILED.
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    });

    it('B7: the same tenant refused by D5 alone is superseded, not bound', async () => {
      ddb
        .on(TransactWriteCommand)
        .rejects(
          cancelled(
            checkFailed(marshall({ realmId: CLAIM.realmId, tenantId: 'tenant-a', grantedAt: NOW + 1 })),
            NONE,
          ),
        );
      ddb.on(UpdateCommand).resolves({});
      await expect(
        ledger().ledger.recordConnection(CODE_HASH, { ...connection, tenantId: 'tenant-a' }),
      ).resolves.toBe('superseded');
    });

    it('B7: a flow without a tenant may only write a company without one', async () => {
      ddb.on(TransactWriteCommand).resolves({});
      await ledger().ledger.recordConnection(CODE_HASH, connection);
      expect(transactItems()[0]?.Update?.ConditionExpression).toMatch(
        /AND attribute_not_exists\(tenantId\)$/,
      );
    });

    it('D5: a superseded write whose CONNECTED update already landed (answer lost) still counts as stored', async () => {
      ddb.on(TransactWriteCommand).rejects(cancelled(checkFailed(), NONE));
      ddb.on(UpdateCommand).rejects(
        new ConditionalCheckFailedException({
          message: 'no',
          $metadata: {},
          Item: marshall({ ...unmarshalledCodeItem(), status: 'CONNECTED' }),
        }),
      );
      await expect(ledger().ledger.recordConnection(CODE_HASH, connection)).resolves.toBe('superseded');
      expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ReturnValuesOnConditionCheckFailure).toBe(
        'ALL_OLD',
      );
    });

    it('C8: reports a lost lease (code no longer EXCHANGING) as LeaseLostError: the tokens are dropped, never stored late', async () => {
      ddb.on(TransactWriteCommand).rejects(cancelled(NONE, checkFailed()));
      await expect(ledger().ledger.recordConnection(CODE_HASH, connection)).rejects.toBeInstanceOf(
        LeaseLostError,
      );
    });

    it('C8: reports any other failed write as StorageUnavailableError, so the caller retries, then asks the ledger', async () => {
      ddb.on(TransactWriteCommand).rejects(new Error('boom'));
      await expect(ledger().ledger.recordConnection(CODE_HASH, connection)).rejects.toMatchObject({
        operation: 'recordConnection',
        awsErrorName: 'Error',
      });
    });
  });
});

function unmarshalledCodeItem(): Record<string, unknown> {
  return {
    pk: `CODE#${CODE_HASH}`,
    status: 'EXCHANGING',
    stateHash: STATE_HASH,
    realmId: CLAIM.realmId,
    reference: 'FIRST234',
    claimedAt: NOW - 1000,
    leaseUntil: NOW + 17_000,
  };
}
