/**
 * Benchmark reference only: the callback most integrations start with. GET /callback exchanges
 * the code at the token endpoint with axios and stores the tokens with one PutCommand. No state
 * check, no browser binding, no ledger: every request that arrives is sent to Intuit, so a
 * duplicate callback is a second exchange of the same code.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import axios from 'axios';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_AWS, observeRequests } from '../../local/dynamodb-local';

export interface NaiveCallbackOptions {
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
  readonly dynamoDbEndpoint: string;
  /** Partition key `realmId`. */
  readonly tableName: string;
  /** Called once per DynamoDB request (the same SDK middleware the local stack uses). */
  readonly onDynamoDbRequest?: (commandName: string) => void;
}

export interface NaiveCallbackServer {
  readonly url: string;
  close(): Promise<void>;
}

interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  x_refresh_token_expires_in: number;
}

export async function startNaiveCallbackServer(options: NaiveCallbackOptions): Promise<NaiveCallbackServer> {
  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      ...LOCAL_AWS,
      endpoint: options.dynamoDbEndpoint,
      // The same transport settings the local stack gives the connector, so only the logic differs.
      requestHandler: { connectionTimeout: 2000, requestTimeout: 15_000 },
    }),
  );
  observeRequests(documents, options.onDynamoDbRequest);
  const basic = Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64');

  const server: Server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      try {
        const code = url.searchParams.get('code') ?? '';
        const realmId = url.searchParams.get('realmId') ?? '';
        const response = await axios.post<TokenResponse>(
          options.tokenEndpoint,
          new URLSearchParams({
            grant_type: 'authorization_code',
            code,
            redirect_uri: options.redirectUri,
          }).toString(),
          {
            headers: {
              Authorization: `Basic ${basic}`,
              'Content-Type': 'application/x-www-form-urlencoded',
              Accept: 'application/json',
            },
            timeout: 8000,
          },
        );
        const tokens = response.data;
        const now = Date.now();
        await documents.send(
          new PutCommand({
            TableName: options.tableName,
            Item: {
              realmId,
              accessToken: tokens.access_token,
              refreshToken: tokens.refresh_token,
              accessTokenExpiresAt: now + tokens.expires_in * 1000,
              refreshTokenExpiresAt: now + tokens.x_refresh_token_expires_in * 1000,
              connectedAt: now,
            },
          }),
        );
        res.writeHead(303, { Location: '/outcome/connected', 'Content-Length': '0' }).end();
      } catch {
        const body = 'Could not connect to QuickBooks';
        res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) }).end(body);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, 'localhost', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        documents.destroy();
      }),
  };
}
