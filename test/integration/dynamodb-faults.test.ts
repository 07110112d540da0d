/**
 * DynamoDB failing mid-flow, for real: each scenario runs on its own DynamoDB Local, which the
 * test stops at the worst moment (SECURITY.md G1, G4, C8).
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

async function isolatedStack(): Promise<{ stack: TestStack; dynamo: RunningDynamoDb }> {
  const dynamo = await startDynamoDbLocal();
  const stack = await startTestStack({ env: { DYNAMODB_ENDPOINT: dynamo.endpoint } });
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
  it('C8/G4: retries the write, then revokes the tokens and asks the user to reconnect', async () => {
    const { stack, dynamo } = await isolatedStack();
    try {
      const { url, flow } = await consentedCallback(stack.url, stack.emulator);
      // Hold the exchange at Intuit long enough to pull DynamoDB out from under it.
      stack.emulator.setFault({ mode: 'latency', latencyMs: 2500, times: 1 });
      const pending = get(url, flow.cookie);
      await until(() => stack.emulator.exchangeCount(sha256Hex(codeOf(url))) === 1);
      await dynamo.stop();
      const response = await pending;

      expect(response.status).toBe(303);
      expect(response.location).toMatch(/^\/outcome\/failed\?ref=[A-Z2-9]{8}$/);
      expect(stack.emulator.exchangeCount(sha256Hex(codeOf(url)))).toBe(1);
      // Tokens are never lost silently: the grant is revoked at Intuit, not left dangling.
      const log = output.logs().find((l) => l['code'] === 'TOKEN_STORE_FAILED');
      expect(log?.['revoked']).toBe(true);
      expect(output.metricNames()).toContain('TokenStoreFailed');
    } finally {
      await stack.close();
      await dynamo.stop();
    }
  });
});
