/**
 * DynamoDB failing mid-flow, for real: each scenario runs on its own DynamoDB Local, which the
 * test stops at the worst moment (docs/security.md G1, G4, C8).
 */
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import type { RunningDynamoDb } from '../../local/dynamodb-local';
import { codeOf, consentedCallback, get } from '../support/http-flow';
import { captureOutput } from '../support/output-capture';
import type { CapturedOutput } from '../support/output-capture';
import { startTestStack } from '../support/test-stack';
import type { TestStack } from '../support/test-stack';

let output: CapturedOutput;
beforeAll(() => {
  output = captureOutput();
});
afterAll(() => output.restore());

/** Flow tenants the callbacks have read (the read runs beside the exchange). */
let tenantReads = 0;

async function isolatedStack(): Promise<{ stack: TestStack; dynamo: RunningDynamoDb }> {
  const dynamo = await startDynamoDbLocal();
  const stack = await startTestStack({
    env: { DYNAMODB_ENDPOINT: dynamo.endpoint },
    wrapLedger: (ledger) =>
      new Proxy(ledger, {
        get(target, property, receiver) {
          if (property === 'readFlowTenant')
            return async (stateHash: string) => {
              const tenant = await target.readFlowTenant(stateHash);
              tenantReads += 1;
              return tenant;
            };
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
  });
  return { stack, dynamo };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('given DynamoDB is down when the callback arrives', () => {
  it('G1: shows the "try again" page with a reference and never calls Intuit', async () => {
    const { stack, dynamo } = await isolatedStack();
    try {
      const { url, flow } = await consentedCallback(stack.url, stack.emulator);
      await dynamo.stop();
      const response = await get(url, flow.cookie);
      expect(response.status).toBe(503);
      expect(response.body).toContain('Nothing was sent to QuickBooks');
      expect(response.body).toMatch(/Reference: <code>[A-Z2-9]{8}<\/code>/);
      expect(stack.emulator.exchangeCount(sha256Hex(codeOf(url)))).toBe(0);
      expect(
        output.logs().some((l) => l['code'] === 'STORAGE_UNAVAILABLE' && l['operation'] === 'claimCode'),
      ).toBe(true);
      expect(output.metricNames()).toContain('StorageUnavailable');
    } finally {
      await stack.close();
      await dynamo.stop();
    }
  });
});

describe('given DynamoDB goes down between the exchange and the token write', () => {
  it('C8/G4: retries the write, never revokes, and answers the finishing page since nobody can know the outcome', async () => {
    const { stack, dynamo } = await isolatedStack();
    try {
      const { url, flow } = await consentedCallback(stack.url, stack.emulator);
      // Hold the exchange at Intuit long enough to pull DynamoDB out from under it.
      stack.emulator.setFault({ mode: 'latency', latencyMs: 2500, times: 1 });
      const pending = get(url, flow.cookie);
      const readsBefore = tenantReads;
      // Between the exchange and the token write: the flow's tenant, read beside the exchange, is in.
      await until(
        () => stack.emulator.exchangeCount(sha256Hex(codeOf(url))) === 1 && tenantReads > readsBefore,
      );
      await dynamo.stop();
      const response = await pending;

      // Neither the token write nor the failure record answered: the tokens may be stored. The
      // browser gets the self-refreshing page, whose reloads converge on the ledger's outcome.
      expect(response.status).toBe(200);
      expect(response.body).toContain('Finishing your connection');
      expect(stack.emulator.exchangeCount(sha256Hex(codeOf(url)))).toBe(1);
      // C8: never revoked, from the callback, whatever happens to the write.
      expect(stack.emulator.revocationRequests()).toBe(0);
      expect(output.logs().some((l) => l['code'] === 'TOKEN_STORE_UNCERTAIN')).toBe(true);
      expect(output.logs().some((l) => l['code'] === 'TOKEN_STORE_FAILED')).toBe(false);
      expect(output.metricNames()).toContain('TokenStoreFailed');
    } finally {
      await stack.close();
      await dynamo.stop();
    }
  });
});
