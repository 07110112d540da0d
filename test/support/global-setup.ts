/**
 * One DynamoDB Local for the whole run (AWS's engine, needs Java), unless DYNAMODB_ENDPOINT points
 * at one already running. Workers inherit the endpoint through the environment; each test file uses
 * its own table prefix, so files never share items.
 */
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import type { RunningDynamoDb } from '../../local/dynamodb-local';

declare global {
  var __QBO_DYNAMODB__: RunningDynamoDb | undefined;
}

export default async function globalSetup(): Promise<void> {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  if (process.env['DYNAMODB_ENDPOINT'] !== undefined && process.env['DYNAMODB_ENDPOINT'] !== '') return;
  const dynamo = await startDynamoDbLocal();
  globalThis.__QBO_DYNAMODB__ = dynamo;
  process.env['DYNAMODB_ENDPOINT'] = dynamo.endpoint;
}
