/** How flows and code entries are keyed and read in the flow table (docs/design.md, data model). */
import type { ClaimResult, CodeClaim, FailureReason, LedgerEntry, LedgerStatus } from '../core/flow-ledger';
import { FLOW_TABLE } from '../core/table-schema';

const PK = FLOW_TABLE.partitionKey;
const TTL = FLOW_TABLE.timeToLiveAttribute ?? 'ttl';

/**
 * C1: consume the state and claim the code in one transaction. Both conditions check expiry and
 * status themselves (invariant 3), and a loser gets both old items back in the same round trip.
 */
export function claimTransactItems(flowTable: string, claim: CodeClaim) {
  return [
    {
      Update: {
        TableName: flowTable,
        Key: { [PK]: stateKey(claim.stateHash) },
        ConditionExpression: `attribute_exists(${PK}) AND #status = :pending AND expiresAt > :now`,
        UpdateExpression: 'SET #status = :consumed, codeHash = :codeHash, consumedAt = :now, #ttl = :ttl',
        ExpressionAttributeNames: { '#status': 'status', '#ttl': TTL },
        ExpressionAttributeValues: {
          ':pending': 'PENDING',
          ':consumed': 'CONSUMED',
          ':codeHash': claim.codeHash,
          ':now': claim.now,
          ':ttl': Math.ceil(claim.retainUntil / 1000),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    },
    {
      Put: {
        TableName: flowTable,
        Item: {
          [PK]: codeKey(claim.codeHash),
          status: 'EXCHANGING' satisfies LedgerStatus,
          stateHash: claim.stateHash,
          realmId: claim.realmId,
          reference: claim.reference,
          claimedAt: claim.now,
          leaseUntil: claim.leaseUntil,
          [TTL]: Math.ceil(claim.retainUntil / 1000),
        },
        ConditionExpression: `attribute_not_exists(${PK})`,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    },
  ];
}

export function stateKey(stateHash: string): string {
  return `STATE#${stateHash}`;
}
export function codeKey(codeHash: string): string {
  return `CODE#${codeHash}`;
}
/** A consumed connect-link nonce (I1), keyed by its SHA-256. */
export function nonceKey(nonceHash: string): string {
  return `NONCE#${nonceHash}`;
}

export function entryVersusClaim(entry: LedgerEntry, claim: CodeClaim): ClaimResult {
  return entry.stateHash === claim.stateHash ? { kind: 'replay', entry } : { kind: 'code-reused' };
}

export function toLedgerEntry(item: Record<string, unknown>): LedgerEntry {
  const key = String(item[PK]);
  return {
    codeHash: key.slice('CODE#'.length),
    stateHash: String(item['stateHash']),
    status: item['status'] as LedgerStatus,
    leaseUntil: Number(item['leaseUntil']),
    reference: String(item['reference']),
    realmId: String(item['realmId']),
    ...(typeof item['reason'] === 'string' ? { reason: item['reason'] as FailureReason } : {}),
  };
}
