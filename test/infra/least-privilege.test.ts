/** Each function's role allows exactly the calls its code makes, on its own environment's resources. */
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import {
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';
import { HANDLER_NAMES, allIamStatements, environmentOf, nameOf, permissionsOf } from './support/template';

let dev: SynthesizedConnector;
let prod: SynthesizedConnector;

beforeAll(() => {
  ({ dev, prod } = synthesizeConnectorEnvironments());
}, SYNTHESIS_TIMEOUT_MS);

describe('least privilege per function (docs/security.md D2)', () => {
  it('connect may start flows and read the credentials, nothing else', () => {
    for (const [, c] of connectors()) {
      expect(permissionsOf(c, c.stateless.handlers.connect.role)).toEqual([
        'dynamodb:PutItem FlowTable.Arn',
        'logs:CreateLogStream ConnectLogGroup.Arn',
        'logs:PutLogEvents ConnectLogGroup.Arn',
        'secretsmanager:GetSecretValue ConnectLinkKeySecret.Ref',
        'secretsmanager:GetSecretValue CredentialsSecret.Ref',
      ]);
    }
  });

  it('callback may claim codes, write verified connections with the connections key, encrypt tokens, and read the credentials, nothing more', () => {
    for (const [, c] of connectors()) {
      // Only the calls its code makes: no read of connections, no ConditionCheckItem, no
      // kms:Encrypt (DynamoDB only needs Decrypt of the table key on the caller's behalf), and on the
      // token key only GenerateDataKey: it encrypts the first tokens and can never decrypt them (H4).
      expect(permissionsOf(c, c.stateless.handlers.callback.role)).toEqual([
        'dynamodb:GetItem FlowTable.Arn',
        'dynamodb:PutItem FlowTable.Arn',
        'dynamodb:UpdateItem ConnectionTable.Arn',
        'dynamodb:UpdateItem FlowTable.Arn',
        'kms:Decrypt ConnectionTableKey.Arn',
        'kms:DescribeKey ConnectionTableKey.Arn',
        'kms:GenerateDataKey TokenKey.Arn',
        'logs:CreateLogStream CallbackLogGroup.Arn',
        'logs:PutLogEvents CallbackLogGroup.Arn',
        'secretsmanager:GetSecretValue ConnectLinkKeySecret.Ref',
        'secretsmanager:GetSecretValue CredentialsSecret.Ref',
      ]);
    }
  });

  it('the token API may read and update connections, list a tenant from its index, and decrypt and encrypt tokens; no flow table', () => {
    for (const [, c] of connectors()) {
      expect(permissionsOf(c, c.stateless.handlers.api.role)).toEqual([
        'dynamodb:GetItem ConnectionTable.Arn',
        'dynamodb:Query ConnectionTable.Arn/index/ByTenant',
        'dynamodb:UpdateItem ConnectionTable.Arn',
        'kms:Decrypt ConnectionTableKey.Arn',
        'kms:Decrypt TokenKey.Arn',
        'kms:DescribeKey ConnectionTableKey.Arn',
        'kms:GenerateDataKey TokenKey.Arn',
        'logs:CreateLogStream ApiLogGroup.Arn',
        'logs:PutLogEvents ApiLogGroup.Arn',
        'secretsmanager:GetSecretValue ConnectLinkKeySecret.Ref',
        'secretsmanager:GetSecretValue CredentialsSecret.Ref',
      ]);
    }
  });

  it('the refresher may read the keep-alive and state indexes, read and update connections, and decrypt and encrypt tokens; no flow table', () => {
    for (const [, c] of connectors()) {
      expect(permissionsOf(c, c.stateless.handlers.refresher.role)).toEqual([
        'dynamodb:GetItem ConnectionTable.Arn',
        'dynamodb:Query ConnectionTable.Arn/index/ByStatus',
        'dynamodb:Query ConnectionTable.Arn/index/HardExpiry',
        'dynamodb:Query ConnectionTable.Arn/index/RefreshDue',
        'dynamodb:UpdateItem ConnectionTable.Arn',
        'kms:Decrypt ConnectionTableKey.Arn',
        'kms:Decrypt TokenKey.Arn',
        'kms:DescribeKey ConnectionTableKey.Arn',
        'kms:GenerateDataKey TokenKey.Arn',
        'logs:CreateLogStream RefresherLogGroup.Arn',
        'logs:PutLogEvents RefresherLogGroup.Arn',
        'secretsmanager:GetSecretValue CredentialsSecret.Ref',
      ]);
    }
  });

  it('only the token API and the refresher may decrypt tokens (docs/security.md H4)', () => {
    for (const [, c] of connectors()) {
      const decrypting = HANDLER_NAMES.filter((handler) =>
        permissionsOf(c, c.stateless.handlers[handler].role).includes('kms:Decrypt TokenKey.Arn'),
      );
      expect(decrypting).toEqual(['api', 'refresher']);
      // And no other role of either stack names the token key for a decrypt.
      const tokenKeyDecrypts = allIamStatements(c).filter(
        (statement) =>
          [statement['Action']].flat().includes('kms:Decrypt') &&
          [statement['Resource']].flat().some((r) => nameOf(c, r) === 'TokenKey.Arn'),
      );
      expect(tokenKeyDecrypts).toHaveLength(2);
    }
  });

  it('I1: only connect, callback and the token API may read the connect-link key, and only they are told where it is', () => {
    for (const [, c] of connectors()) {
      const readers = HANDLER_NAMES.filter((handler) =>
        permissionsOf(c, c.stateless.handlers[handler].role).includes(
          'secretsmanager:GetSecretValue ConnectLinkKeySecret.Ref',
        ),
      );
      expect(readers).toEqual(['connect', 'callback', 'api']);
      const told = HANDLER_NAMES.filter(
        (handler) => environmentOf(c, handler)['CONNECT_LINK_KEY_SECRET_ID'] !== undefined,
      );
      expect(told).toEqual(['connect', 'callback', 'api']);
      for (const handler of told)
        expect(nameOf(c, environmentOf(c, handler)['CONNECT_LINK_KEY_SECRET_ID'])).toBe(
          'ConnectLinkKeySecret.Ref',
        );
      // And no other role of either stack names the key.
      const statements = allIamStatements(c).filter((statement) =>
        [statement['Resource']].flat().some((r) => nameOf(c, r) === 'ConnectLinkKeySecret.Ref'),
      );
      expect(statements).toHaveLength(3);
    }
  });

  it.each(['connect', 'outcome'] as const)('%s has no access to the token key at all', (handler) => {
    for (const [, c] of connectors()) {
      expect(permissionsOf(c, c.stateless.handlers[handler].role).join('\n')).not.toMatch(/TokenKey/);
    }
  });

  it('the token key grants nothing by its own policy beyond the account default', () => {
    for (const [, c] of connectors()) {
      const keyId = logicalIdOf(c.stateful, c.stateful.tokenKey);
      const key = propertiesOf(resourcesOfType(c.statefulTemplate, 'AWS::KMS::Key')[keyId] as Json);
      const statements = (key['KeyPolicy'] as { Statement: Json[] }).Statement;
      // The key policy delegates to IAM (the account root, kms:*) and names no service or role: who
      // may use the key is decided by the function roles above.
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatchObject({ Action: 'kms:*', Effect: 'Allow' });
      expect(JSON.stringify(statements[0]!['Principal'])).toMatch(/:root/);
    }
  });

  it('outcome may only write its own logs', () => {
    for (const [, c] of connectors()) {
      expect(permissionsOf(c, c.stateless.handlers.outcome.role)).toEqual([
        'logs:CreateLogStream OutcomeLogGroup.Arn',
        'logs:PutLogEvents OutcomeLogGroup.Arn',
      ]);
    }
  });

  it('connect can neither read the connections table nor use its key', () => {
    for (const [, c] of connectors()) {
      const permissions = permissionsOf(c, c.stateless.handlers.connect.role).join('\n');
      expect(permissions).not.toMatch(/ConnectionTable/);
    }
  });

  it('the keep-alive schedule may invoke the refresher and nothing else, and only for this account', () => {
    for (const [, c] of connectors()) {
      expect(permissionsOf(c, c.stateless.keepAliveRole)).toEqual([
        'lambda:InvokeFunction RefresherFunction.Arn',
      ]);
      const role = propertiesOf(
        resourcesOfType(c.statelessTemplate, 'AWS::IAM::Role')[
          logicalIdOf(c.stateless, c.stateless.keepAliveRole)
        ] as Json,
      );
      expect((role['AssumeRolePolicyDocument'] as { Statement: Json[] }).Statement).toEqual([
        expect.objectContaining({
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: expect.objectContaining({ 'aws:SourceAccount': expect.anything() }) },
        }),
      ]);
    }
  });

  it('no role carries an AWS managed policy or an inline policy besides the ones above', () => {
    for (const [, c] of connectors()) {
      for (const role of Object.values(resourcesOfType(c.statelessTemplate, 'AWS::IAM::Role')).map(
        propertiesOf,
      )) {
        expect(role['ManagedPolicyArns']).toBeUndefined();
        expect(role['Policies']).toBeUndefined();
      }
    }
  });

  it('no statement grants DynamoDB, KMS or Secrets Manager actions on a wildcard', () => {
    for (const [, c] of connectors()) {
      for (const statement of allIamStatements(c)) {
        const actions = [statement['Action']].flat().map(String);
        if (!actions.some((a) => /^(dynamodb|kms|secretsmanager):/.test(a))) continue;
        expect(actions.filter((a) => a.includes('*'))).toEqual([]);
        for (const resource of [statement['Resource']].flat()) {
          expect(typeof resource === 'string' && resource.includes('*')).toBe(false);
        }
      }
    }
  });

  it("each environment's functions read only that environment's secret", () => {
    const secretOf = (c: SynthesizedConnector) => environmentOf(c, 'connect')['QBO_CREDENTIALS_SECRET_ID'];
    expect(JSON.stringify(secretOf(dev))).toContain('QboConnector-dev-Stateful:');
    expect(JSON.stringify(secretOf(prod))).toContain('QboConnector-prod-Stateful:');
  });
});
