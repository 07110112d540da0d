/** The HTTP API: routes and their integrations, stage, throttling, access logs, custom domain, outputs. */
import { Match } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../lambdas/routes';
import { ENVIRONMENTS } from '../../lib/config/environments';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
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
import { HANDLER_NAMES, environmentOf, nameOf, outputsOf, type HandlerName } from './support/template';

let prod: SynthesizedConnector;
let staging: SynthesizedConnector;

beforeAll(() => {
  ({ prod, staging } = synthesizeConnectorEnvironments());
}, SYNTHESIS_TIMEOUT_MS);

describe('the HTTP API', () => {
  // Written out, not derived from the registry: the deployed routes are the contract.
  const ROUTE_KEYS: [string, HandlerName][] = [
    ['GET /connect', 'connect'],
    ['GET /callback', 'callback'],
    ['GET /outcome/{kind}', 'outcome'],
  ];

  it.each(ROUTE_KEYS)('routes %s to the %s function with payload format 2.0', (routeKey, handler) => {
    for (const [, c] of connectors()) {
      const routes = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Route')).map(
        propertiesOf,
      );
      const route = routes.find((r) => r['RouteKey'] === routeKey);
      expect(route).toBeDefined();
      expect(route!['AuthorizationType']).toBe('NONE');
      const target = (route!['Target'] as { 'Fn::Join': [string, [string, { Ref: string }]] })['Fn::Join'][1];
      const integration = propertiesOf(
        resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Integration')[target[1].Ref] as Json,
      );
      expect(integration['IntegrationType']).toBe('AWS_PROXY');
      expect(integration['PayloadFormatVersion']).toBe('2.0');
      expect(nameOf(c, integration['IntegrationUri'])).toBe(
        `${handler[0]!.toUpperCase()}${handler.slice(1)}Function.Arn`,
      );
      // API Gateway waits a little longer than the function may run, never past its 29 s limit.
      expect(integration['TimeoutInMillis']).toBe((ROUTES[handler].timeoutSeconds + 1) * 1000);
    }
  });

  it('has exactly those three routes and no catch-all', () => {
    for (const [, c] of connectors()) {
      const keys = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::ApiGatewayV2::Route'))
        .map((r) => propertiesOf(r)['RouteKey'])
        .sort();
      expect(keys).toEqual(['GET /callback', 'GET /connect', 'GET /outcome/{kind}']);
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

  it('comes with the other outputs an operator pastes: alarm topic, dashboard, secret name', () => {
    for (const [, c] of connectors()) {
      for (const output of ['ConnectUrl', 'CallbackUrl', 'AlarmTopicArn', 'DashboardName']) {
        c.statelessTemplate.hasOutput(output, {});
      }
      c.statefulTemplate.hasOutput('CredentialsSecretName', {});
    }
  });
});
