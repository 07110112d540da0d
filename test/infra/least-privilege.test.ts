/** Each function's role allows exactly the calls its code makes, on its own environment's resources. */
import { propertiesOf, resourcesOfType, type SynthesizedConnector } from './support/connector-app';
import {
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';
import { allIamStatements, environmentOf, permissionsOf } from './support/template';

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
        'secretsmanager:GetSecretValue CredentialsSecret.Ref',
      ]);
    }
  });

  it('callback may claim codes, write verified connections with the connections key, and read the credentials, nothing more', () => {
    for (const [, c] of connectors()) {
      // Only the calls its code makes: no read or update of connections, no ConditionCheckItem, no
      // kms:Encrypt (DynamoDB only needs Decrypt of the table key on the caller's behalf).
      expect(permissionsOf(c, c.stateless.handlers.callback.role)).toEqual([
        'dynamodb:GetItem FlowTable.Arn',
        'dynamodb:PutItem FlowTable.Arn',
        'dynamodb:UpdateItem ConnectionTable.Arn',
        'dynamodb:UpdateItem FlowTable.Arn',
        'kms:Decrypt ConnectionTableKey.Arn',
        'kms:DescribeKey ConnectionTableKey.Arn',
        'logs:CreateLogStream CallbackLogGroup.Arn',
        'logs:PutLogEvents CallbackLogGroup.Arn',
        'secretsmanager:GetSecretValue CredentialsSecret.Ref',
      ]);
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
