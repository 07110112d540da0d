/**
 * DynamoDB implementation of the FlowLedger port. Every decision is a condition expression that
 * checks expiry itself (TTL only cleans up, docs/design.md invariant 3), and every loser of a condition
 * gets the old item back in the same round trip (ReturnValuesOnConditionCheckFailure: ALL_OLD).
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LeaseLostError, StorageUnavailableError } from '../core/errors';
import { sha256Hex } from '../core/flow-identifiers';
import type { NewConnection } from '../core/connection-store';
import { LEDGER_RETENTION_SECONDS } from '../core/flow-ledger';
import type {
  CancelResult,
  ClaimResult,
  CodeClaim,
  ConnectionWrite,
  CreateFlowResult,
  FailureReason,
  FlowLedger,
  LedgerEntry,
  LedgerStatus,
  NewFlow,
} from '../core/flow-ledger';
import { CONNECTION_TABLE, FLOW_TABLE } from '../core/table-schema';
import {
  claimTransactItems,
  codeKey,
  entryVersusClaim,
  nonceKey,
  stateKey,
  toLedgerEntry,
} from './ledger-items';
import { boundToOtherTenant, newConnectionUpdate } from './connection-item';
import type { TokenEncrypter } from '../core/token-cipher';
import { CipherUnavailableError } from '../core/token-cipher';
import { storageError } from './dynamodb-errors';

const PK = FLOW_TABLE.partitionKey;
const REALM = CONNECTION_TABLE.partitionKey;
const TTL = FLOW_TABLE.timeToLiveAttribute ?? 'ttl';
/**
 * Concurrent duplicates touch the same two items, and DynamoDB may cancel every one of them with
 * TransactionConflict. Retrying with full-jitter backoff lets one win; 8 attempts bound the wait
 * to about 2 s, well inside the callback's timeout.
 */
const CLAIM_CONFLICT_ATTEMPTS = 8;

type StateStatus = 'PENDING' | 'CONSUMED' | 'CANCELLED';

/**
 * A state nobody came back for is kept a day past its expiry, so a late callback is told
 * "expired" rather than "unknown"; a used one is kept as long as the ledger (LEDGER_RETENTION_SECONDS).
 */
const UNUSED_STATE_RETENTION_SECONDS = 24 * 60 * 60;

export interface DynamoDbFlowLedgerOptions {
  readonly client: DynamoDBDocumentClient;
  readonly flowTableName: string;
  readonly connectionTableName: string;
  /**
   * Seals the tokens of a verified connection (H3). Only the callback records connections, so only
   * its ledger has one; the connect function's ledger never sees a token.
   */
  readonly tokenEncrypter?: TokenEncrypter;
  /** Injectable for tests. @default real setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export class DynamoDbFlowLedger implements FlowLedger {
  private readonly client: DynamoDBDocumentClient;
  private readonly flowTable: string;
  private readonly connectionTable: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly tokenEncrypter: TokenEncrypter | undefined;
  /**
   * One ciphertext per connection however often its write is retried: the transaction's
   * ClientRequestToken makes DynamoDB acknowledge a retry of a commit whose answer was lost, but
   * only if every parameter is the same, and each encryption yields different bytes.
   */
  private readonly sealed = new WeakMap<NewConnection, Promise<Uint8Array>>();

  constructor(options: DynamoDbFlowLedgerOptions) {
    this.tokenEncrypter = options.tokenEncrypter;
    this.client = options.client;
    this.flowTable = options.flowTableName;
    this.connectionTable = options.connectionTableName;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async createFlow(flow: NewFlow): Promise<CreateFlowResult> {
    const state = {
      TableName: this.flowTable,
      Item: {
        [PK]: stateKey(flow.stateHash),
        status: 'PENDING' satisfies StateStatus,
        createdAt: flow.createdAt,
        expiresAt: flow.expiresAt,
        // I2: the tenant lives here, server side; the browser and Intuit only ever see the state.
        ...(flow.tenantId !== undefined ? { tenantId: flow.tenantId } : {}),
        [TTL]: Math.ceil(flow.expiresAt / 1000) + UNUSED_STATE_RETENTION_SECONDS,
      },
      // A 256-bit random state never collides; the condition makes that an invariant, not a hope.
      ConditionExpression: `attribute_not_exists(${PK})`,
    };
    const nonce = flow.nonce;
    if (nonce === undefined) {
      await this.send('createFlow', () => this.client.send(new PutCommand(state)));
      return 'created';
    }
    try {
      // I1: the link's nonce and the flow in one transaction: a link starts one flow, or none.
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.flowTable,
                Item: {
                  [PK]: nonceKey(nonce.hash),
                  stateHash: flow.stateHash,
                  usedAt: flow.createdAt,
                  // Kept past the link's expiry: after it, the expiry check refuses the link anyway.
                  [TTL]: Math.ceil(nonce.expiresAt / 1000) + UNUSED_STATE_RETENTION_SECONDS,
                },
                ConditionExpression: `attribute_not_exists(${PK})`,
              },
            },
            { Put: state },
          ],
        }),
      );
      return 'created';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw storageError('createFlow', error);
      const [nonceReason] = error.CancellationReasons ?? [];
      if (nonceReason?.Code === 'ConditionalCheckFailed') return 'nonce-used';
      throw storageError('createFlow', error);
    }
  }

  async claimCode(claim: CodeClaim): Promise<ClaimResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new TransactWriteCommand({ TransactItems: claimTransactItems(this.flowTable, claim) }),
        );
        return { kind: 'claimed' };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw storageError('claimCode', error);
        const reasons = error.CancellationReasons ?? [];
        const decided = await this.explainCancelledClaim(claim, reasons);
        if (decided !== undefined) return decided;
        // Throttling or a validation error is not a race: report it as what it is.
        const other = reasons.find(
          (r) => !['None', 'ConditionalCheckFailed', 'TransactionConflict'].includes(r.Code ?? 'None'),
        );
        if (other?.Code !== undefined) throw new StorageUnavailableError('claimCode', other.Code, error);
        // TransactionConflict: a concurrent duplicate holds the items right now. Wait briefly,
        // then either its claim is visible (we are a replay) or we try again.
        if (attempt >= CLAIM_CONFLICT_ATTEMPTS) {
          throw new StorageUnavailableError('claimCode', 'TransactionConflict', error);
        }
        await this.sleep(Math.floor(Math.random() * Math.min(500, 20 * 2 ** attempt)));
        const entry = await this.readEntry(claim.codeHash);
        if (entry !== undefined) return entryVersusClaim(entry, claim);
      }
    }
  }

  async readFlowTenant(stateHash: string): Promise<string | undefined> {
    const result = await this.send('readFlowTenant', () =>
      this.client.send(
        new GetCommand({
          TableName: this.flowTable,
          Key: { [PK]: stateKey(stateHash) },
          ProjectionExpression: 'tenantId',
          ConsistentRead: true,
        }),
      ),
    );
    const tenantId: unknown = result.Item?.['tenantId'];
    return typeof tenantId === 'string' ? tenantId : undefined;
  }

  private async explainCancelledClaim(
    claim: CodeClaim,
    reasons: readonly CancellationReason[],
  ): Promise<ClaimResult | undefined> {
    const [stateReason, codeReason] = reasons;
    if (codeReason?.Code === 'ConditionalCheckFailed' && codeReason.Item !== undefined) {
      return entryVersusClaim(toLedgerEntry(unmarshall(codeReason.Item)), claim);
    }
    if (stateReason?.Code !== 'ConditionalCheckFailed') return undefined;
    if (stateReason.Item === undefined) return { kind: 'state-not-found' };
    const state = unmarshall(stateReason.Item);
    const status = state['status'] as StateStatus;
    if (status === 'CANCELLED') return { kind: 'state-used', cancelled: true };
    if (status === 'CONSUMED') {
      if (state['codeHash'] !== claim.codeHash) return { kind: 'state-used', cancelled: false };
      // Same code, but the code item was not returned: read it (rare; keeps the answer exact).
      // Gone entirely means TTL removed it: the flow is long over, answer "expired".
      const entry = await this.readEntry(claim.codeHash);
      return entry !== undefined ? entryVersusClaim(entry, claim) : { kind: 'state-used', cancelled: false };
    }
    if (Number(state['expiresAt']) <= claim.now) return { kind: 'state-expired' };
    return undefined;
  }

  async cancelFlow(stateHash: string, now: number): Promise<CancelResult> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.flowTable,
          Key: { [PK]: stateKey(stateHash) },
          ConditionExpression: `attribute_exists(${PK}) AND #status = :pending AND expiresAt > :now`,
          UpdateExpression: 'SET #status = :cancelled, consumedAt = :now, #ttl = :ttl',
          ExpressionAttributeNames: { '#status': 'status', '#ttl': TTL },
          ExpressionAttributeValues: {
            ':pending': 'PENDING',
            ':cancelled': 'CANCELLED',
            ':now': now,
            ':ttl': Math.ceil(now / 1000) + LEDGER_RETENTION_SECONDS,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'cancelled';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storageError('cancelFlow', error);
      if (error.Item === undefined) return 'state-not-found';
      const state = unmarshall(error.Item);
      if (state['status'] === 'CANCELLED') return 'already-cancelled';
      if (state['status'] === 'CONSUMED') return 'state-used';
      return 'state-expired';
    }
  }

  async readEntry(codeHash: string): Promise<LedgerEntry | undefined> {
    const result = await this.send('readEntry', () =>
      this.client.send(
        new GetCommand({ TableName: this.flowTable, Key: { [PK]: codeKey(codeHash) }, ConsistentRead: true }),
      ),
    );
    return result.Item === undefined ? undefined : toLedgerEntry(result.Item);
  }

  async recordFailure(
    codeHash: string,
    status: 'FAILED' | 'UNKNOWN',
    reason: FailureReason,
  ): Promise<LedgerStatus> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.flowTable,
          Key: { [PK]: codeKey(codeHash) },
          // Only an exchange still in flight can fail; an outcome already recorded stands.
          ConditionExpression: '#status = :exchanging',
          UpdateExpression: 'SET #status = :status, reason = :reason',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':exchanging': 'EXCHANGING', ':status': status, ':reason': reason },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return status;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return error.Item !== undefined ? (unmarshall(error.Item)['status'] as LedgerStatus) : status;
      }
      throw storageError('recordFailure', error);
    }
  }

  async recordConnection(codeHash: string, connection: NewConnection): Promise<ConnectionWrite> {
    const sealed = await this.sealTokens(connection);
    try {
      await this.client.send(
        new TransactWriteCommand({
          // The same token on every attempt: a retry after a commit whose answer was lost is
          // acknowledged by DynamoDB instead of failing its own condition (and dropping good tokens).
          ClientRequestToken: sha256Hex(`connection:${codeHash}`).slice(0, 36),
          TransactItems: [
            {
              // D5: never overwrite a newer grant (another tab, a reconnect) with older tokens.
              Update: {
                TableName: this.connectionTable,
                Key: { [REALM]: connection.realmId },
                ...newConnectionUpdate(connection, sealed),
                // B7 versus D5: the refused item tells which half of the condition failed.
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            {
              Update: this.markConnectedUpdate(codeHash),
            },
          ],
        }),
      );
      return 'stored';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw storageError('recordConnection', error);
      const [connectionReason, codeReason] = error.CancellationReasons ?? [];
      if (codeReason?.Code === 'ConditionalCheckFailed') {
        const status: unknown =
          codeReason.Item !== undefined ? unmarshall(codeReason.Item)['status'] : undefined;
        if (status === 'CONNECTED') return 'stored';
        throw new LeaseLostError();
      }
      if (connectionReason?.Code === 'ConditionalCheckFailed') {
        if (
          connectionReason.Item !== undefined &&
          boundToOtherTenant(unmarshall(connectionReason.Item), connection.tenantId)
        )
          return 'bound-to-other-tenant';
        // A newer connection for this company is already stored: keep it, and record this code's
        // outcome as connected (the company is connected; these older tokens are simply dropped).
        await this.markConnected(codeHash);
        return 'superseded';
      }
      throw storageError('recordConnection', error);
    }
  }

  private sealTokens(connection: NewConnection): Promise<Uint8Array> {
    if (connection.sealedTokens !== undefined) return Promise.resolve(connection.sealedTokens);
    const encrypter = this.tokenEncrypter;
    if (encrypter === undefined)
      throw new Error('this ledger has no token encrypter: it cannot record connections');
    let sealed = this.sealed.get(connection);
    if (sealed === undefined) {
      sealed = encrypter
        .encrypt(connection.realmId, {
          accessToken: connection.accessToken,
          refreshToken: connection.refreshToken,
        })
        .catch((error: unknown) => {
          this.sealed.delete(connection);
          // Nothing was written: the store's retry and its "failed" answer apply, as for DynamoDB.
          throw error instanceof CipherUnavailableError ? storageError('sealTokens', error) : error;
        });
      this.sealed.set(connection, sealed);
    }
    return sealed;
  }

  /**
   * EXCHANGING -> CONNECTED. Only while still EXCHANGING: once a replay has answered "failed"
   * (lease passed, UNKNOWN), storing would make later replays answer "connected" (invariant 5).
   */
  private markConnectedUpdate(codeHash: string) {
    return {
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      TableName: this.flowTable,
      Key: { [PK]: codeKey(codeHash) },
      ConditionExpression: '#status = :exchanging',
      UpdateExpression: 'SET #status = :connected REMOVE reason',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':exchanging': 'EXCHANGING', ':connected': 'CONNECTED' },
    };
  }

  private async markConnected(codeHash: string): Promise<void> {
    try {
      await this.client.send(new UpdateCommand(this.markConnectedUpdate(codeHash)));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // Already CONNECTED: an earlier attempt of this very update landed and its answer was lost.
        if (error.Item !== undefined && unmarshall(error.Item)['status'] === 'CONNECTED') return;
        throw new LeaseLostError();
      }
      throw storageError('recordConnection', error);
    }
  }

  private async send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw storageError(operation, error);
    }
  }
}
