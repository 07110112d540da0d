/** The DynamoDB client every adapter uses, bounded as the callback's time budget assumes. */
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  DYNAMODB_ATTEMPT_TIMEOUT_MS,
  DYNAMODB_CONNECTION_TIMEOUT_MS,
  DYNAMODB_MAX_ATTEMPTS,
} from '../core/time-budget';

/** Creates a document client with bounded retries and timeouts (G1, C4). */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    // One call is then bounded by WRITE_WORST_MS (core/time-budget.ts): DynamoDB answers in
    // milliseconds, and the callback plans its whole invocation around this bound.
    maxAttempts: DYNAMODB_MAX_ATTEMPTS,
    // throwOnRequestTimeout: without it the installed handler only warns, and a call is unbounded.
    requestHandler: {
      connectionTimeout: DYNAMODB_CONNECTION_TIMEOUT_MS,
      requestTimeout: DYNAMODB_ATTEMPT_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
    ...config,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
