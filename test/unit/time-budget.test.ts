/**
 * docs/security.md C4: the callback's time budget is sized from the DynamoDB client's real settings and
 * the installed SDK's retry delays, so an SDK upgrade that waits longer fails here, not in a user's
 * browser at the end of a 28 s invocation.
 */
import { Retry } from '@smithy/core/retry';
import { createDocumentClient } from '../../lambdas/adapters/dynamodb-client';
import {
  afterExchangeReserveMs,
  CALLBACK_TIMEOUT_SECONDS,
  callbackReservedMs,
  DEFAULT_COMPANY_CHECK_TIMEOUT_MS,
  DEFAULT_TOKEN_REQUEST_TIMEOUT_MS,
  DYNAMODB_ATTEMPT_TIMEOUT_MS,
  DYNAMODB_MAX_ATTEMPTS,
  maxTokenRequestTimeoutMs,
  SDK_RETRY_DELAY_MAX_MS,
  WRITE_WORST_MS,
} from '../../lambdas/core/time-budget';
import { FUNCTIONS } from '../../lambdas/routes';

describe('the callback time budget (C4)', () => {
  it("C4: covers the installed SDK's longest wait before a retry (a throttled call's base delay)", () => {
    expect(Retry.throttlingDelay()).toBeLessThanOrEqual(SDK_RETRY_DELAY_MAX_MS);
    expect(Retry.delay()).toBeLessThanOrEqual(SDK_RETRY_DELAY_MAX_MS);
  });

  it('C4: the DynamoDB client is built with the attempts and per-attempt bound the budget assumes', async () => {
    const client = createDocumentClient({ region: 'eu-west-1' });
    try {
      expect(await client.config.maxAttempts()).toBe(DYNAMODB_MAX_ATTEMPTS);
      const handler = client.config.requestHandler as unknown as {
        configProvider: Promise<{ requestTimeout?: number; throwOnRequestTimeout?: boolean }>;
      };
      const settings = await handler.configProvider;
      expect(settings.requestTimeout).toBe(DYNAMODB_ATTEMPT_TIMEOUT_MS);
      expect(settings.throwOnRequestTimeout).toBe(true);
    } finally {
      client.destroy();
    }
  });

  it('C4: one DynamoDB call is bounded by every attempt timing out with the longest wait between them', () => {
    expect(WRITE_WORST_MS).toBe(2 * 1_500 + 1_000);
  });

  it('C4: claim, token request, company check, three store writes and answer fit the 28 s function, inside API Gateway 29 s', () => {
    expect(FUNCTIONS.callback.timeoutSeconds).toBe(CALLBACK_TIMEOUT_SECONDS);
    expect(CALLBACK_TIMEOUT_SECONDS).toBeLessThan(29);
    const total =
      WRITE_WORST_MS +
      DEFAULT_TOKEN_REQUEST_TIMEOUT_MS +
      afterExchangeReserveMs(DEFAULT_COMPANY_CHECK_TIMEOUT_MS) +
      1_000;
    expect(total).toBeLessThanOrEqual(CALLBACK_TIMEOUT_SECONDS * 1000);
    expect(
      callbackReservedMs(DEFAULT_COMPANY_CHECK_TIMEOUT_MS) +
        maxTokenRequestTimeoutMs(DEFAULT_COMPANY_CHECK_TIMEOUT_MS),
    ).toBe(CALLBACK_TIMEOUT_SECONDS * 1000);
    expect(maxTokenRequestTimeoutMs(DEFAULT_COMPANY_CHECK_TIMEOUT_MS)).toBe(8_000);
  });
});
