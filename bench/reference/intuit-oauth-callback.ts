/**
 * Benchmark reference only (never deployed): a callback Lambda written "the usual way" with
 * Intuit's own `intuit-oauth` package, as its README and most tutorials show it. It is bundled
 * exactly like our handlers so that `npm run bench` can compare bundle size and cold init.
 *
 * Deliberately naive: no state check, no exactly-once ledger, credentials from plain environment
 * variables; the whole point is to measure what the usual glue costs to load.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import OAuthClient from 'intuit-oauth';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

const oauthClient = new OAuthClient({
  clientId: process.env['QBO_CLIENT_ID'] ?? '',
  clientSecret: process.env['QBO_CLIENT_SECRET'] ?? '',
  environment: 'sandbox',
  redirectUri: process.env['QBO_REDIRECT_URI'] ?? '',
});
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  try {
    const authResponse = await oauthClient.createToken(event.rawPath + '?' + event.rawQueryString);
    const token = authResponse.getToken();
    await documents.send(
      new PutCommand({
        TableName: process.env['CONNECTION_TABLE_NAME'],
        Item: {
          realmId: token.realmId,
          accessToken: token.access_token,
          refreshToken: token.refresh_token,
          accessTokenExpiresAt: Date.now() + (token.expires_in ?? 3600) * 1000,
          refreshTokenExpiresAt: Date.now() + (token.x_refresh_token_expires_in ?? 8_726_400) * 1000,
          connectedAt: Date.now(),
        },
      }),
    );
    return { statusCode: 302, headers: { Location: '/outcome/connected' } };
  } catch (error) {
    console.error('callback failed', error);
    return {
      statusCode: 500,
      headers: { 'Content-Type': 'text/plain' },
      body: 'Could not connect to QuickBooks',
    };
  }
};
