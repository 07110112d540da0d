/**
 * Benchmark reference only: the callback most integrations start with. GET /callback exchanges
 * the code at the token endpoint with axios and stores the tokens with one PutCommand. No state
 * check, no browser binding, no ledger: every request that arrives is sent to Intuit, so a
 * duplicate callback is a second exchange of the same code.
 *
 * With `storage: 'connector-transactions'` it is the benchmark's control: the same handler, but
 * its DynamoDB writes are the connector's two transactions (claim the state and the code, then
 * store the connection and mark the code connected), with the same conditions and item shapes.
 * The connector's latency over the control's is then its own code, not DynamoDB's.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import axios from 'axios';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_AWS, observeRequests } from '../../local/dynamodb-local';

export interface NaiveCallbackOptions {
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
  readonly dynamoDbEndpoint: string;
  /** Partition key `realmId`. */
  readonly tableName: string;
  /** @default 'put' */
  readonly storage?: 'put' | 'connector-transactions';
  /** For 'connector-transactions': a table with the flow table's schema (partition key `pk`). */
  readonly flowTableName?: string;
  /**
   * When set, the handler checks the company with the new token (CompanyInfo) before storing, as
   * the connector does; the benchmark's control sets it. @default no check
   */
  readonly companyInfoBaseUrl?: string;
  /** Called once per DynamoDB request (the same SDK middleware the local stack uses). */
  readonly onDynamoDbRequest?: (commandName: string) => void;
}

export interface NaiveCallbackServer {
  readonly url: string;
  /** For 'connector-transactions': stores the pending flow a /connect would have, before the callback. */
  createPendingFlow(state: string): Promise<void>;
  close(): Promise<void>;
}

const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');
const FLOW_LIFETIME_MS = 15 * 60 * 1000;

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
  const storage = options.storage ?? 'put';
  const flowTable = options.flowTableName ?? '';
  if (storage === 'connector-transactions' && flowTable === '')
    throw new Error('the control needs flowTableName');

  // The connector's claim (lambdas/adapters/dynamodb-flow-ledger.ts): consume the state, create
  // the code's entry, both conditional, in one transaction.
  const claimLikeTheConnector = async (
    stateHash: string,
    codeHash: string,
    realmId: string,
  ): Promise<void> => {
    const now = Date.now();
    const ttl = Math.ceil((now + 24 * 60 * 60 * 1000) / 1000);
    await documents.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: flowTable,
              Key: { pk: `STATE#${stateHash}` },
              ConditionExpression: 'attribute_exists(pk) AND #status = :pending AND expiresAt > :now',
              UpdateExpression:
                'SET #status = :consumed, codeHash = :codeHash, consumedAt = :now, #ttl = :ttl',
              ExpressionAttributeNames: { '#status': 'status', '#ttl': 'ttl' },
              ExpressionAttributeValues: {
                ':pending': 'PENDING',
                ':consumed': 'CONSUMED',
                ':codeHash': codeHash,
                ':now': now,
                ':ttl': ttl,
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          {
            Put: {
              TableName: flowTable,
              Item: {
                pk: `CODE#${codeHash}`,
                status: 'EXCHANGING',
                stateHash,
                realmId,
                reference: codeHash.slice(0, 12),
                claimedAt: now,
                leaseUntil: now + 25_000,
                ttl,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
      }),
    );
  };
  // The connector's store: the connection unless a newer one is stored, and the code CONNECTED.
  const storeLikeTheConnector = async (
    connection: Record<string, unknown> & { connectedAt: number },
    codeHash: string,
  ): Promise<void> => {
    await documents.send(
      new TransactWriteCommand({
        ClientRequestToken: sha256(`connection:${codeHash}`).slice(0, 36),
        TransactItems: [
          {
            Put: {
              TableName: options.tableName,
              Item: { ...connection, qboEnvironment: 'sandbox', version: connection.connectedAt },
              ConditionExpression: 'attribute_not_exists(#realm) OR #version < :version',
              ExpressionAttributeNames: { '#realm': 'realmId', '#version': 'version' },
              ExpressionAttributeValues: { ':version': connection.connectedAt },
            },
          },
          {
            Update: {
              TableName: flowTable,
              Key: { pk: `CODE#${codeHash}` },
              ConditionExpression: '#status = :exchanging',
              UpdateExpression: 'SET #status = :connected REMOVE reason',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':exchanging': 'EXCHANGING', ':connected': 'CONNECTED' },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
      }),
    );
  };

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
        const codeHash = sha256(code);
        if (storage === 'connector-transactions') {
          await claimLikeTheConnector(sha256(url.searchParams.get('state') ?? ''), codeHash, realmId);
        }
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
        if (options.companyInfoBaseUrl !== undefined) {
          await axios.get(
            `${options.companyInfoBaseUrl}/v3/company/${realmId}/companyinfo/${realmId}?minorversion=75`,
            {
              headers: { Authorization: `Bearer ${tokens.access_token}`, Accept: 'application/json' },
              timeout: 3000,
            },
          );
        }
        const now = Date.now();
        const connection = {
          realmId,
          accessToken: tokens.access_token,
          refreshToken: tokens.refresh_token,
          accessTokenExpiresAt: now + tokens.expires_in * 1000,
          refreshTokenExpiresAt: now + tokens.x_refresh_token_expires_in * 1000,
          connectedAt: now,
        };
        if (storage === 'put') {
          await documents.send(new PutCommand({ TableName: options.tableName, Item: connection }));
        } else {
          await storeLikeTheConnector(connection, codeHash);
        }
        res.writeHead(303, { Location: '/outcome/connected', 'Content-Length': '0' }).end();
      } catch {
        const body = 'Could not connect to QuickBooks';
        res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) }).end(body);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The same backlog as the local stack (local/server.ts).
    server.listen({ port: 0, host: 'localhost', backlog: 4096 }, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://localhost:${port}`,
    createPendingFlow: async (state) => {
      const now = Date.now();
      await documents.send(
        new PutCommand({
          TableName: flowTable,
          Item: {
            pk: `STATE#${sha256(state)}`,
            status: 'PENDING',
            createdAt: now,
            expiresAt: now + FLOW_LIFETIME_MS,
            ttl: Math.ceil((now + FLOW_LIFETIME_MS) / 1000) + 24 * 60 * 60,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        documents.destroy();
      }),
  };
}
