/**
 * DynamoDB cancels transactions that touch an item another transaction holds (TransactionConflict);
 * DynamoDB Local never does, it serializes them. Here an SDK middleware cancels a share of the
 * connector's TransactWriteItems with that reason, so the ledger's jittered claim retry and the
 * callback's store retry run against a real engine, and exactly-once must still hold.
 */
import type { DynamoDbFlowLedger } from '../../lambdas/adapters/dynamodb-flow-ledger';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { injectTransactionConflicts } from '../../local/dynamodb-local';
import type { TransactionConflictCounts, TransactionConflictOptions } from '../../local/dynamodb-local';
import { codeOf, consentedCallback, getFollowingRefresh } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

/** A small seeded generator, so a run's pattern of cancellations can be reproduced. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ConflictedStack {
  readonly stack: TestStack;
  readonly counts: TransactionConflictCounts;
}

async function stackWithConflicts(options: TransactionConflictOptions): Promise<ConflictedStack> {
  let counts: TransactionConflictCounts | undefined;
  const stack = await startTestStack({
    wrapLedger: (ledger: DynamoDbFlowLedger) => {
      // The ledger's own document client, so the middleware sits where DynamoDB's answer arrives.
      counts = injectTransactionConflicts(ledger['client'], options);
      return ledger;
    },
  });
  if (counts === undefined) throw new Error('the local stack built no ledger');
  return { stack, counts };
}

const CONNECTED = /\/outcome\/connected(\?|$)/;

let output: CapturedOutput;
beforeAll(() => {
  output = captureOutput();
});
afterAll(() => output?.restore());

describe('20 concurrent duplicates of one callback while half the transactions are cancelled', () => {
  let conflicted: ConflictedStack;
  beforeAll(async () => {
    conflicted = await stackWithConflicts({ share: 0.5, random: seeded(12) });
  });
  afterAll(async () => conflicted?.stack.close());

  it('exchange the code once, store one connection with live tokens, and answer every duplicate "connected"', async () => {
    const { stack, counts } = conflicted;
    const { url, flow } = await consentedCallback(stack.url, stack.emulator);
    const exchangesBefore = stack.emulator.exchangeCount();

    const answers = await Promise.all(
      Array.from({ length: 20 }, () => getFollowingRefresh(url, flow.cookie, 20)),
    );

    expect(counts.injected).toBeGreaterThan(0);
    expect(counts.transactions).toBeGreaterThan(counts.injected);
    expect(stack.emulator.exchangeCount() - exchangesBefore).toBe(1);
    expect(stack.emulator.exchangeCount(sha256Hex(codeOf(url)))).toBe(1);
    const connections = await stack.openedConnections();
    expect(connections).toHaveLength(1);
    expect(stack.emulator.isAccessTokenActive(String(connections[0]?.['accessToken']))).toBe(true);
    expect(answers.map((a) => `${a.status} ${a.location ?? ''}`)).toEqual(
      answers.map(() => expect.stringMatching(CONNECTED)),
    );
    expect(answers.every((a) => a.status === 303)).toBe(true);
  }, 60_000);
});

describe('one callback whose claim and store are each cancelled twice', () => {
  let conflicted: ConflictedStack;
  beforeAll(async () => {
    conflicted = await stackWithConflicts({ share: 1, maxConsecutive: 2 });
  });
  afterAll(async () => conflicted?.stack.close());

  it('retries both, exchanges once, stores the connection and answers "connected"', async () => {
    const { stack, counts } = conflicted;
    const { url, flow } = await consentedCallback(stack.url, stack.emulator);

    const answer = await getFollowingRefresh(url, flow.cookie);

    expect(answer.status).toBe(303);
    expect(answer.location).toMatch(CONNECTED);
    // Claim: cancelled, cancelled, committed; store: the same.
    expect(counts).toEqual({ transactions: 6, injected: 4 });
    expect(stack.emulator.exchangeCount(sha256Hex(codeOf(url)))).toBe(1);
    const connections = await stack.openedConnections();
    expect(connections).toHaveLength(1);
    expect(stack.emulator.isAccessTokenActive(String(connections[0]?.['accessToken']))).toBe(true);
    expect(output.logs().some((l) => l['code'] === 'CALLBACK_CONNECTED')).toBe(true);
  }, 60_000);
});
