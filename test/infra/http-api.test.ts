/** The HTTP API: routes and their integrations, stage, throttling, access logs, custom domain, outputs. */
import { Match } from 'aws-cdk-lib/assertions';
import { FUNCTIONS } from '../../lambdas/routes';
import { ENVIRONMENTS } from '../../lib/config/environments';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  synthesizeConnector,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import {
  CUSTOM_DOMAIN,
  STAGING,
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';
import {
  HANDLER_NAMES,
  environmentOf,
  labelOf,
  nameOf,
  outputsOf,
  permissionsOf,
  type HandlerName,
} from './support/template';

let dev: SynthesizedConnector;
let prod: SynthesizedConnector;
let staging: SynthesizedConnector;

beforeAll(() => {
  ({ dev, prod, staging } = synthesizeConnectorEnvironments());
}, SYNTHESIS_TIMEOUT_MS);

describe('the HTTP API', () => {
  // Written out, not derived from the registry: the deployed routes are the contract.
  const ROUTE_KEYS: [string, HandlerName, 'NONE' | 'AWS_IAM'][] = [
    ['GET /connect', 'connect', 'NONE'],
    ['GET /callback', 'callback', 'NONE'],
    ['GET /outcome/{kind}', 'outcome', 'NONE'],
    ['GET /reconnect', 'connect', 'NONE'],
    ['GET /disconnect', 'api', 'NONE'],
    ['POST /api/connections/{realmId}/access-token', 'api', 'AWS_IAM'],
    ['GET /api/connections/{realmId}', 'api', 'AWS_IAM'],
    ['GET /api/connections', 'api', 'AWS_IAM'],
    ['DELETE /api/connections/{realmId}', 'api', 'AWS_IAM'],
    ['ANY /api/{proxy+}', 'api', 'AWS_IAM'],
    ['POST /api/connect-links', 'api', 'AWS_IAM'],
    ['POST /api/connect-results/verify', 'api', 'AWS_IAM'],
  ];

  it.each(ROUTE_KEYS)(
    'routes %s to the %s function with payload format 2.0 and authorisation %s',
    (routeKey, handler, authorizationType) => {
      for (const [, c] of connectors()) {
        const routes = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Route')).map(
          propertiesOf,
        );
        const route = routes.find((r) => r['RouteKey'] === routeKey);
        expect(route).toBeDefined();
        expect(route!['AuthorizationType']).toBe(authorizationType);
        expect(route!['AuthorizerId']).toBeUndefined();
        const target = (route!['Target'] as { 'Fn::Join': [string, [string, { Ref: string }]] })[
          'Fn::Join'
        ][1];
        const integration = propertiesOf(
          resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Integration')[target[1].Ref] as Json,
        );
        expect(integration['IntegrationType']).toBe('AWS_PROXY');
        expect(integration['PayloadFormatVersion']).toBe('2.0');
        expect(nameOf(c, integration['IntegrationUri'])).toBe(`${labelOf(handler)}Function.Arn`);
        // API Gateway waits a little longer than the function may run, never past its 29 s limit.
        expect(integration['TimeoutInMillis']).toBe((FUNCTIONS[handler].timeoutSeconds + 1) * 1000);
        expect(integration['TimeoutInMillis']).toBeLessThanOrEqual(29_000);
      }
    },
  );

  it('has exactly those routes: no $default catch-all, and no route for the refresher', () => {
    for (const [, c] of connectors()) {
      const keys = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Route'))
        .map((r) => propertiesOf(r)['RouteKey'])
        .sort();
      expect(keys).toEqual(ROUTE_KEYS.map(([key]) => key).sort());
      const integrated = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Integration'))
        .map((i) => nameOf(c, propertiesOf(i)['IntegrationUri']))
        .sort();
      // One integration per HTTP function, shared by its routes.
      expect(integrated).toEqual([
        'ApiFunction.Arn',
        'CallbackFunction.Arn',
        'ConnectFunction.Arn',
        'OutcomeFunction.Arn',
      ]);
    }
  });

  it('answers no CORS preflight (docs/security.md B5)', () => {
    for (const [, c] of connectors()) {
      c.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', {
        CorsConfiguration: Match.absent(),
      });
    }
  });

  it('serves one $default stage at the root, auto-deployed, throttled from the configuration', () => {
    for (const [name, c] of connectors()) {
      const stages = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Stage')).map(
        propertiesOf,
      );
      expect(stages).toHaveLength(1);
      expect(stages[0]).toMatchObject({
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: {
          ThrottlingRateLimit: c.config.throttling.rateLimit,
          ThrottlingBurstLimit: c.config.throttling.burstLimit,
        },
      });
      expect(c.config).toBe(name === 'staging' ? STAGING : ENVIRONMENTS[name as 'dev' | 'prod']);
    }
  });

  it('writes JSON access logs that never contain the query string, the raw path or headers', () => {
    for (const [, c] of connectors()) {
      const stage = propertiesOf(
        Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Stage'))[0]!,
      );
      const format = (stage['AccessLogSettings'] as { Format: string }).Format;
      const fields = JSON.parse(format) as Record<string, string>;
      expect(fields).toMatchObject({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        routeKey: '$context.routeKey',
        status: '$context.status',
        responseLatency: '$context.responseLatency',
        integrationError: '$context.integrationErrorMessage',
      });
      expect(format).not.toMatch(
        /\$context\.(path|requestOverride|responseOverride)|querystring|\$input|\$request\./i,
      );
    }
  });

  it('logs access to its own log group with the configured retention', () => {
    for (const [, c] of connectors()) {
      const logGroupId = logicalIdOf(c.stateless, c.stateless.api.accessLogGroup);
      const stage = propertiesOf(
        Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Stage'))[0]!,
      );
      expect(stage['AccessLogSettings']).toMatchObject({
        DestinationArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
      });
      const logGroup = resourcesOfType(c.statelessTemplate, 'AWS::Logs::LogGroup')[logGroupId] as Json;
      expect(propertiesOf(logGroup)['RetentionInDays']).toBe(c.config.logRetention);
    }
  });

  describe('given a custom domain', () => {
    it('maps the domain to the $default stage with the configured certificate', () => {
      staging.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
        DomainName: CUSTOM_DOMAIN,
        DomainNameConfigurations: [
          {
            CertificateArn: STAGING.customDomain!.certificateArn,
            EndpointType: 'REGIONAL',
            SecurityPolicy: 'TLS_1_2',
          },
        ],
      });
      staging.statelessTemplate.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
      staging.statelessTemplate.hasOutput('CustomDomainTarget', {});
    });

    it('switches off the execute-api endpoint so the state cookie has one host (docs/security.md A2, A3)', () => {
      staging.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', {
        DisableExecuteApiEndpoint: true,
      });
      prod.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', {
        DisableExecuteApiEndpoint: false,
      });
    });
  });
});

describe('the redirect URI (docs/security.md A3)', () => {
  it('handed to every function equals the CallbackUrl output', () => {
    for (const [, c] of connectors()) {
      const callbackUrl = outputsOf(c.statelessTemplate)['CallbackUrl']!.Value;
      for (const handler of HANDLER_NAMES)
        expect(environmentOf(c, handler)['QBO_REDIRECT_URI']).toEqual(callbackUrl);
    }
  });

  it('is the API endpoint followed by /callback, and ConnectUrl the same host with /connect', () => {
    const outputs = outputsOf(prod.statelessTemplate);
    const apiEndpoint = {
      'Fn::GetAtt': [logicalIdOf(prod.stateless, prod.stateless.api.httpApi), 'ApiEndpoint'],
    };
    expect(outputs['CallbackUrl']!.Value).toEqual({ 'Fn::Join': ['', [apiEndpoint, '/callback']] });
    expect(outputs['ConnectUrl']!.Value).toEqual({ 'Fn::Join': ['', [apiEndpoint, '/connect']] });
  });

  it('given a custom domain, is https://<domain>/callback', () => {
    const outputs = outputsOf(staging.statelessTemplate);
    expect(outputs['CallbackUrl']!.Value).toBe(`https://${CUSTOM_DOMAIN}/callback`);
    expect(outputs['ConnectUrl']!.Value).toBe(`https://${CUSTOM_DOMAIN}/connect`);
    expect(environmentOf(staging, 'callback')['QBO_REDIRECT_URI']).toBe(`https://${CUSTOM_DOMAIN}/callback`);
  });

  it('comes with the other outputs an operator pastes: API base URL, caller role, alarm topic, dashboard, secret name', () => {
    for (const [, c] of connectors()) {
      for (const output of [
        'ConnectUrl',
        'CallbackUrl',
        'ApiBaseUrl',
        'ApiCallerRoleArn',
        'AlarmTopicArn',
        'DashboardName',
      ]) {
        c.statelessTemplate.hasOutput(output, {});
      }
      c.statefulTemplate.hasOutput('CredentialsSecretName', {});
    }
  });
});

describe('the app API caller role (docs/security.md H1)', () => {
  const trustOf = (c: SynthesizedConnector): Json[] => {
    const id = logicalIdOf(c.stateless, c.stateless.apiCallerRole);
    const role = propertiesOf(resourcesOfType(c.statelessTemplate, 'AWS::IAM::Role')[id] as Json);
    return (role['AssumeRolePolicyDocument'] as { Statement: Json[] }).Statement;
  };

  it("may invoke exactly this API's /api/* routes on its $default stage, any method, and nothing else", () => {
    for (const c of [dev, prod]) {
      expect(permissionsOf(c, c.stateless.apiCallerRole)).toEqual([
        'execute-api:Invoke arn:AWS::Partition.Ref:execute-api:AWS::Region.Ref:AWS::AccountId.Ref:HttpApi.Ref/$default/*/api/*',
      ]);
    }
  });

  it('given a pinned account and region, names them in the resource', () => {
    expect(permissionsOf(staging, staging.stateless.apiCallerRole)).toEqual([
      'execute-api:Invoke arn:aws:execute-api:eu-west-1:123456789012:HttpApi.Ref/$default/*/api/*',
    ]);
  });

  it('by default is assumable by principals of its own account only, with no external ID', () => {
    for (const [name, c] of connectors()) {
      const statements = trustOf(c);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatchObject({ Action: 'sts:AssumeRole', Effect: 'Allow' });
      expect(statements[0]!['Condition']).toBeUndefined();
      // A pinned environment names its partition and account; the others resolve at deploy time.
      expect(nameOf(c, (statements[0]!['Principal'] as { AWS: unknown }).AWS)).toBe(
        name === 'staging'
          ? 'arn:aws:iam::123456789012:root'
          : 'arn:AWS::Partition.Ref:iam::AWS::AccountId.Ref:root',
      );
    }
  });

  it(
    'given principals and an external ID, trusts exactly those and requires the ID',
    () => {
      const principals = ['210987654321', 'arn:aws:iam::111122223333:role/billing-app'];
      const c = synthesizeConnector('prod', {
        prod: {
          ...ENVIRONMENTS.prod,
          apiCallerPrincipals: principals,
          apiCallerExternalId: 'qbo-connector-7f3a',
        },
      });
      const statements = trustOf(c);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatchObject({
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': 'qbo-connector-7f3a' } },
      });
      const trusted = [(statements[0]!['Principal'] as { AWS: unknown }).AWS]
        .flat()
        .map((p) => nameOf(c, p))
        .sort();
      expect(trusted).toEqual([
        'arn:AWS::Partition.Ref:iam::210987654321:root',
        'arn:aws:iam::111122223333:role/billing-app',
      ]);
    },
    SYNTHESIS_TIMEOUT_MS,
  );

  it('outputs its ARN and the API base URL (the redirect URI without /callback)', () => {
    for (const [, c] of connectors()) {
      const outputs = outputsOf(c.statelessTemplate);
      expect(outputs['ApiCallerRoleArn']!.Value).toEqual({
        'Fn::GetAtt': [logicalIdOf(c.stateless, c.stateless.apiCallerRole), 'Arn'],
      });
    }
    const apiEndpoint = {
      'Fn::GetAtt': [logicalIdOf(prod.stateless, prod.stateless.api.httpApi), 'ApiEndpoint'],
    };
    expect(outputsOf(prod.statelessTemplate)['ApiBaseUrl']!.Value).toEqual(apiEndpoint);
    expect(outputsOf(staging.statelessTemplate)['ApiBaseUrl']!.Value).toBe(`https://${CUSTOM_DOMAIN}`);
  });
});
