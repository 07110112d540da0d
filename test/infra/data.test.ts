/** The stateful data: tables, the connections key, their protection per environment, and the credentials secret. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PLACEHOLDER_CREDENTIAL } from '../../lambdas/core/config';
import { CONNECTION_METADATA_ATTRIBUTES, CONNECTION_TABLE } from '../../lambdas/core/table-schema';
import { PROJECT_ROOT } from '../../lib/project-paths';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  synthesizeConnector,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import {
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';
import { HANDLER_NAMES, environmentOf } from './support/template';

let dev: SynthesizedConnector;
let prod: SynthesizedConnector;

beforeAll(() => {
  ({ dev, prod } = synthesizeConnectorEnvironments());
}, SYNTHESIS_TIMEOUT_MS);

describe('the tables', () => {
  it('build the flow table from FLOW_TABLE: pk string key, TTL on ttl, on demand, encrypted, PITR', () => {
    for (const [, c] of connectors()) {
      const id = logicalIdOf(c.stateful, c.stateful.flowTable);
      expect(
        propertiesOf(resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[id] as Json),
      ).toMatchObject({
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
  });

  it('encrypt the connections table with a customer managed key that rotates (docs/security.md D1)', () => {
    for (const [, c] of connectors()) {
      const tableId = logicalIdOf(c.stateful, c.stateful.connectionTable);
      const keyId = logicalIdOf(c.stateful, c.stateful.connectionTableKey);
      expect(
        propertiesOf(resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[tableId] as Json),
      ).toMatchObject({
        KeySchema: [{ AttributeName: 'realmId', KeyType: 'HASH' }],
        AttributeDefinitions: expect.arrayContaining([{ AttributeName: 'realmId', AttributeType: 'S' }]),
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
        },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
      expect(propertiesOf(resourcesOfType(c.statefulTemplate, 'AWS::KMS::Key')[keyId] as Json)).toMatchObject(
        {
          EnableKeyRotation: true,
        },
      );
    }
  });

  it('index the connections table as CONNECTION_TABLE says: typed keys, keys-only or the listed attributes', () => {
    for (const [, c] of connectors()) {
      const tableId = logicalIdOf(c.stateful, c.stateful.connectionTable);
      const table = propertiesOf(
        resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[tableId] as Json,
      );
      // Written out: the deployed indexes are what the token API and the refresher query.
      expect(table['GlobalSecondaryIndexes']).toEqual([
        {
          IndexName: 'RefreshDue',
          KeySchema: [
            { AttributeName: 'keepAliveShard', KeyType: 'HASH' },
            { AttributeName: 'refreshDueAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: 'HardExpiry',
          KeySchema: [
            { AttributeName: 'keepAliveShard', KeyType: 'HASH' },
            { AttributeName: 'refreshTokenHardExpiresAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: 'ByStatus',
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'realmId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: 'ByTenant',
          KeySchema: [
            { AttributeName: 'tenantId', KeyType: 'HASH' },
            { AttributeName: 'realmId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...CONNECTION_METADATA_ATTRIBUTES] },
        },
      ]);
      const attributes = (table['AttributeDefinitions'] as { AttributeName: string; AttributeType: string }[])
        .map((a) => `${a.AttributeName}:${a.AttributeType}`)
        .sort();
      expect(attributes).toEqual([
        'keepAliveShard:S',
        'realmId:S',
        'refreshDueAt:N',
        'refreshTokenHardExpiresAt:N',
        'status:S',
        'tenantId:S',
      ]);
    }
  });

  it('build every index of a schema, and none for the flow table', () => {
    for (const [, c] of connectors()) {
      const flowId = logicalIdOf(c.stateful, c.stateful.flowTable);
      const flow = propertiesOf(resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[flowId] as Json);
      expect(flow['GlobalSecondaryIndexes']).toBeUndefined();
      const tableId = logicalIdOf(c.stateful, c.stateful.connectionTable);
      const table = propertiesOf(
        resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[tableId] as Json,
      );
      expect((table['GlobalSecondaryIndexes'] as Json[]).map((i) => i['IndexName'])).toEqual(
        (CONNECTION_TABLE.indexes ?? []).map((i) => i.name),
      );
    }
  });

  it(
    'given --context connectionIndexes=<n>, build only the first n indexes (one more per deploy of an older table)',
    () => {
      const c = synthesizeConnector('dev', undefined, { connectionIndexLimit: 1 });
      const tableId = logicalIdOf(c.stateful, c.stateful.connectionTable);
      const table = propertiesOf(
        resourcesOfType(c.statefulTemplate, 'AWS::DynamoDB::Table')[tableId] as Json,
      );
      expect((table['GlobalSecondaryIndexes'] as Json[]).map((i) => i['IndexName'])).toEqual(['RefreshDue']);
      expect(
        (table['AttributeDefinitions'] as { AttributeName: string }[]).map((a) => a.AttributeName).sort(),
      ).toEqual(['keepAliveShard', 'realmId', 'refreshDueAt']);
    },
    SYNTHESIS_TIMEOUT_MS,
  );

  it('encrypt the tokens with a key of their own, apart from the table key, that rotates (docs/security.md H3, H4)', () => {
    for (const [, c] of connectors()) {
      const tokenKeyId = logicalIdOf(c.stateful, c.stateful.tokenKey);
      expect(tokenKeyId).not.toBe(logicalIdOf(c.stateful, c.stateful.connectionTableKey));
      const key = resourcesOfType(c.statefulTemplate, 'AWS::KMS::Key')[tokenKeyId] as Json;
      expect(propertiesOf(key)).toMatchObject({
        EnableKeyRotation: true,
        Description: expect.stringContaining(
          'encrypts OAuth tokens in the application, separate from the table key',
        ),
      });
      expect(key).toMatchObject(
        c.config.dataProtection.deletionProtection
          ? { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }
          : { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' },
      );
    }
  });

  /** Names that must be unique in an account and region, so a fixed one would clash across environments. */
  const UNIQUE_NAME_PROPERTIES: [string, string][] = [
    ['AWS::DynamoDB::Table', 'TableName'],
    ['AWS::KMS::Alias', 'AliasName'],
    ['AWS::SecretsManager::Secret', 'Name'],
    ['AWS::Lambda::Function', 'FunctionName'],
    ['AWS::IAM::Role', 'RoleName'],
    ['AWS::Scheduler::Schedule', 'Name'],
    ['AWS::Logs::LogGroup', 'LogGroupName'],
    ['AWS::SNS::Topic', 'TopicName'],
    ['AWS::CloudWatch::Alarm', 'AlarmName'],
    ['AWS::CloudWatch::Dashboard', 'DashboardName'],
  ];

  it('have no physical names, so two environments fit in one account', () => {
    for (const [, c] of connectors()) {
      for (const template of [c.statefulTemplate, c.statelessTemplate]) {
        for (const [type, nameProperty] of UNIQUE_NAME_PROPERTIES) {
          for (const resource of Object.values(resourcesOfType(template, type))) {
            expect(propertiesOf(resource)[nameProperty]).toBeUndefined();
          }
        }
      }
    }
  });

  describe('in prod', () => {
    it('retain tables, key and secret, with deletion protection and PITR (docs/security.md D1)', () => {
      for (const type of ['AWS::DynamoDB::Table', 'AWS::KMS::Key', 'AWS::SecretsManager::Secret']) {
        const resources = Object.values(resourcesOfType(prod.statefulTemplate, type));
        expect(resources.length).toBeGreaterThan(0);
        for (const resource of resources) {
          expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
        }
      }
      for (const table of Object.values(resourcesOfType(prod.statefulTemplate, 'AWS::DynamoDB::Table'))) {
        expect(propertiesOf(table)).toMatchObject({
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        });
      }
    });

    it('turn on termination protection for the stateful stack', () => {
      expect(prod.stateful.terminationProtection).toBe(true);
      expect(prod.stateless.terminationProtection).toBe(false);
    });
  });

  describe('in dev', () => {
    it('can be torn down: no retention, no deletion protection', () => {
      for (const table of Object.values(resourcesOfType(dev.statefulTemplate, 'AWS::DynamoDB::Table'))) {
        expect(table).toMatchObject({ DeletionPolicy: 'Delete' });
        expect(propertiesOf(table)['DeletionProtectionEnabled']).toBe(false);
      }
      expect(dev.stateful.terminationProtection).toBe(false);
    });
  });
});

describe('credentials (docs/security.md F3, G5)', () => {
  it('no environment variable holds a credential or the placeholder', () => {
    for (const [, c] of connectors()) {
      for (const handler of HANDLER_NAMES) {
        for (const [key, value] of Object.entries(environmentOf(c, handler))) {
          expect(key).not.toMatch(/CLIENT_ID|CLIENT_SECRET|PASSWORD|ACCESS_TOKEN|REFRESH_TOKEN/);
          expect(JSON.stringify(value)).not.toContain(PLACEHOLDER_CREDENTIAL);
          expect(JSON.stringify(value)).not.toMatch(/clientSecret|clientId/i);
        }
      }
    }
  });

  it('the secret is created holding only the placeholder and the Intuit environment', () => {
    for (const [, c] of connectors()) {
      const all = resourcesOfType(c.statefulTemplate, 'AWS::SecretsManager::Secret');
      // The Intuit credentials and the connect-link key (I1), nothing else.
      expect(Object.keys(all).sort()).toEqual(
        [
          logicalIdOf(c.stateful, c.stateful.credentialsSecret),
          logicalIdOf(c.stateful, c.stateful.connectLinkKeySecret),
        ].sort(),
      );
      const secrets = [propertiesOf(all[logicalIdOf(c.stateful, c.stateful.credentialsSecret)] as Json)];
      expect(JSON.parse(secrets[0]!['SecretString'] as string)).toEqual({
        clientId: PLACEHOLDER_CREDENTIAL,
        clientSecret: PLACEHOLDER_CREDENTIAL,
        environment: c.config.qboEnvironment,
      });
      expect(secrets[0]!['GenerateSecretString']).toBeUndefined();
    }
  });

  it('I1: the connect-link key is its own secret, generated by Secrets Manager (64 characters, no placeholder, no value in the template)', () => {
    for (const [envName, c] of connectors()) {
      const id = logicalIdOf(c.stateful, c.stateful.connectLinkKeySecret);
      const secret = resourcesOfType(c.statefulTemplate, 'AWS::SecretsManager::Secret')[id] as Json;
      const properties = propertiesOf(secret);
      expect(properties['SecretString']).toBeUndefined();
      expect(properties['GenerateSecretString']).toEqual({
        PasswordLength: 64,
        ExcludePunctuation: true,
        IncludeSpace: false,
      });
      // Kept or removed with the environment's data, like the credentials.
      const credentials = resourcesOfType(c.statefulTemplate, 'AWS::SecretsManager::Secret')[
        logicalIdOf(c.stateful, c.stateful.credentialsSecret)
      ] as Json;
      expect(secret['DeletionPolicy']).toBe(credentials['DeletionPolicy']);
      if (envName === 'prod') expect(secret).toMatchObject({ DeletionPolicy: 'Retain' });
      if (envName === 'dev') expect(secret).toMatchObject({ DeletionPolicy: 'Delete' });
    }
  });

  it('A5/I1: every function is told whether signed links are required: yes in prod, no in dev', () => {
    for (const handler of HANDLER_NAMES) {
      expect(environmentOf(prod, handler)['REQUIRE_SIGNED_CONNECT_LINKS']).toBe('true');
      expect(environmentOf(dev, handler)['REQUIRE_SIGNED_CONNECT_LINKS']).toBe('false');
    }
  });

  it('nothing but that secret mentions a client secret, in templates or in cdk.json', () => {
    for (const [, c] of connectors()) {
      expect(JSON.stringify(c.statelessTemplate.toJSON())).not.toMatch(/clientSecret|REPLACE_ME/);
      const statefulWithoutSecret = { ...(c.statefulTemplate.toJSON()['Resources'] as Record<string, Json>) };
      for (const id of Object.keys(resourcesOfType(c.statefulTemplate, 'AWS::SecretsManager::Secret'))) {
        delete statefulWithoutSecret[id];
      }
      expect(JSON.stringify(statefulWithoutSecret)).not.toMatch(/clientSecret|REPLACE_ME/);
    }
    expect(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')).not.toMatch(
      /clientSecret|clientId|REPLACE_ME/i,
    );
  });
});
