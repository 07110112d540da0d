import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { Role } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { PLACEHOLDER_CREDENTIAL } from '../../lambdas/core/config';
import { ROUTES } from '../../lambdas/routes';
import { METRICS, METRIC_NAMESPACE, SERVICE_NAME } from '../../lambdas/core/telemetry-codes';
import { ENVIRONMENTS, type EnvironmentConfig } from '../../lib/config/environments';
import { NAG_ACKNOWLEDGEMENTS } from '../../lib/nag';
import { PROJECT_ROOT } from '../../lib/project-paths';
import { RUNBOOK_ANCHORS } from '../../lib/runbook';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  synthesizeConnector,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';

/**
 * A third environment that exercises every optional setting: custom domain, alarm email, app
 * return URL, and a pinned account and region.
 */
const CUSTOM_DOMAIN = 'connect.example.com';
const STAGING: EnvironmentConfig = {
  ...ENVIRONMENTS.prod,
  account: '123456789012',
  region: 'eu-west-1',
  customDomain: {
    domainName: CUSTOM_DOMAIN,
    certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0f6b2c1e-1111-2222-3333-444455556666',
  },
  alarmEmail: 'oncall@example.com',
  appReturnUrl: 'https://app.example.com/settings/quickbooks',
  appSuccessUrl: 'https://app.example.com/quickbooks/connected',
  appFailureUrl: 'https://app.example.com/quickbooks/problem',
};

let dev: SynthesizedConnector;
let prod: SynthesizedConnector;
let staging: SynthesizedConnector;

beforeAll(() => {
  dev = synthesizeConnector('dev');
  prod = synthesizeConnector('prod');
  staging = synthesizeConnector('staging', { ...ENVIRONMENTS, staging: STAGING });
  // Three synths with esbuild bundling: seconds each, more on a busy machine.
}, 180_000);

const connectors = (): [string, SynthesizedConnector][] => [
  ['dev', dev],
  ['prod', prod],
  ['staging', staging],
];

type HandlerName = 'connect' | 'callback' | 'outcome';
const HANDLER_NAMES: HandlerName[] = ['connect', 'callback', 'outcome'];

function functionProps(c: SynthesizedConnector, handler: HandlerName): Json {
  const id = logicalIdOf(c.stateless, c.stateless.handlers[handler].function);
  return propertiesOf(resourcesOfType(c.statelessTemplate, 'AWS::Lambda::Function')[id] as Json);
}

function environmentOf(c: SynthesizedConnector, handler: HandlerName): Record<string, unknown> {
  return (functionProps(c, handler)['Environment'] as { Variables: Record<string, unknown> }).Variables;
}

/**
 * Names the resource a policy or dimension points at, following cross-stack imports back to the
 * stateful stack: `FlowTable.Arn`, `CredentialsSecret.Ref` (a secret's Ref is its ARN),
 * `ConnectLogGroup.Arn`, or the literal string.
 */
function nameOf(c: SynthesizedConnector, value: unknown): string {
  const statefulNames: Record<string, string> = {
    [logicalIdOf(c.stateful, c.stateful.flowTable)]: 'FlowTable',
    [logicalIdOf(c.stateful, c.stateful.connectionTable)]: 'ConnectionTable',
    [logicalIdOf(c.stateful, c.stateful.connectionTableKey)]: 'ConnectionTableKey',
    [logicalIdOf(c.stateful, c.stateful.credentialsSecret)]: 'CredentialsSecret',
  };
  const statelessNames: Record<string, string> = {};
  for (const handler of HANDLER_NAMES) {
    const label = handler[0]!.toUpperCase() + handler.slice(1);
    statelessNames[logicalIdOf(c.stateless, c.stateless.handlers[handler].logGroup)] = `${label}LogGroup`;
    statelessNames[logicalIdOf(c.stateless, c.stateless.handlers[handler].function)] = `${label}Function`;
  }
  const describe = (ref: unknown, names: Record<string, string>): string => {
    const r = ref as Json;
    if (typeof r['Ref'] === 'string') return `${names[r['Ref']] ?? r['Ref']}.Ref`;
    const getAtt = r['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt !== undefined) return `${names[getAtt[0]] ?? getAtt[0]}.${getAtt[1]}`;
    return JSON.stringify(ref);
  };
  if (typeof value === 'string') return value;
  const importName = (value as Json)['Fn::ImportValue'];
  if (typeof importName === 'string') {
    const outputs = c.statefulTemplate.toJSON()['Outputs'] as Record<
      string,
      { Value: unknown; Export?: { Name: string } }
    >;
    const exported = Object.values(outputs).find((o) => o.Export?.Name === importName);
    if (exported === undefined) throw new Error(`no export ${importName}`);
    return describe(exported.Value, statefulNames);
  }
  return describe(value, statelessNames);
}

/** Every `action resource` pair a role is allowed, across all the policies attached to it. */
function permissionsOf(c: SynthesizedConnector, role: Role): string[] {
  const roleId = logicalIdOf(c.stateless, role);
  const pairs: string[] = [];
  for (const policy of Object.values(resourcesOfType(c.statelessTemplate, 'AWS::IAM::Policy'))) {
    const props = propertiesOf(policy);
    if (!(props['Roles'] as Json[]).some((r) => r['Ref'] === roleId)) continue;
    const statements = (props['PolicyDocument'] as { Statement: Json[] }).Statement;
    for (const statement of statements) {
      expect(statement['Effect']).toBe('Allow');
      expect(statement['Condition']).toBeUndefined();
      for (const action of [statement['Action']].flat()) {
        for (const resource of [statement['Resource']].flat())
          pairs.push(`${String(action)} ${nameOf(c, resource)}`);
      }
    }
  }
  return pairs.sort();
}

function allIamStatements(c: SynthesizedConnector): Json[] {
  return [c.statefulTemplate, c.statelessTemplate].flatMap((template) =>
    Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).flatMap(
      (policy) => (propertiesOf(policy)['PolicyDocument'] as { Statement: Json[] }).Statement,
    ),
  );
}

function alarms(c: SynthesizedConnector): Json[] {
  return Object.values(resourcesOfType(c.statelessTemplate, 'AWS::CloudWatch::Alarm')).map(propertiesOf);
}

function sortedDimensions(alarm: Json): { Name: string; Value: unknown }[] {
  return [...(alarm['Dimensions'] as { Name: string; Value: unknown }[])].sort((a, b) =>
    a.Name.localeCompare(b.Name),
  );
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function runbookSections(): Map<string, string> {
  const markdown = fs.readFileSync(path.join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');
  const sections = new Map<string, string>();
  let current: string | undefined;
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.+?)\s*$/.exec(line);
    if (heading !== null) {
      current = heading[1]!
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-');
      sections.set(current, '');
    } else if (current !== undefined) {
      sections.set(current, `${sections.get(current)}${line}\n`);
    }
  }
  return sections;
}

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
      const callbackUrl = c.statelessTemplate.toJSON()['Outputs']['CallbackUrl'].Value as unknown;
      for (const handler of HANDLER_NAMES)
        expect(environmentOf(c, handler)['QBO_REDIRECT_URI']).toEqual(callbackUrl);
    }
  });

  it('is the API endpoint followed by /callback, and ConnectUrl the same host with /connect', () => {
    const outputs = prod.statelessTemplate.toJSON()['Outputs'];
    const apiEndpoint = {
      'Fn::GetAtt': [logicalIdOf(prod.stateless, prod.stateless.api.httpApi), 'ApiEndpoint'],
    };
    expect(outputs['CallbackUrl'].Value).toEqual({ 'Fn::Join': ['', [apiEndpoint, '/callback']] });
    expect(outputs['ConnectUrl'].Value).toEqual({ 'Fn::Join': ['', [apiEndpoint, '/connect']] });
  });

  it('given a custom domain, is https://<domain>/callback', () => {
    const outputs = staging.statelessTemplate.toJSON()['Outputs'];
    expect(outputs['CallbackUrl'].Value).toBe(`https://${CUSTOM_DOMAIN}/callback`);
    expect(outputs['ConnectUrl'].Value).toBe(`https://${CUSTOM_DOMAIN}/connect`);
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

describe('the functions', () => {
  it.each(HANDLER_NAMES)(
    'run %s on Node.js 22, arm64, 256 MB, with its timeout inside API Gateway',
    (handler) => {
      for (const [, c] of connectors()) {
        expect(functionProps(c, handler)).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          MemorySize: 256,
          Timeout: ROUTES[handler].timeoutSeconds,
          Handler: 'index.handler',
        });
        expect(ROUTES[handler].timeoutSeconds).toBeLessThan(29);
      }
    },
  );

  const bundleOf = (handler: HandlerName): { code: string; dir: string } => {
    const code = functionProps(prod, handler)['Code'] as { S3Key: string };
    const dir = path.join(prod.assembly.directory, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    return { code: fs.readFileSync(path.join(dir, 'index.mjs'), 'utf8'), dir };
  };

  it.each(HANDLER_NAMES)('bundle %s locally as minified ESM with a source map', (handler) => {
    const bundle = bundleOf(handler);
    expect(
      bundle.code.startsWith(
        "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      ),
    ).toBe(true);
    expect(fs.existsSync(path.join(bundle.dir, 'index.mjs.map'))).toBe(true);
    expect(bundle.code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    // Trimmed to our own code: Node parses the whole map at every cold start.
    const map = JSON.parse(fs.readFileSync(path.join(bundle.dir, 'index.mjs.map'), 'utf8')) as {
      sources: string[];
    };
    expect(map.sources.some((source) => source.endsWith(`lambdas/${handler}.ts`))).toBe(true);
    expect(map.sources.filter((source) => source.includes('node_modules/'))).toEqual([]);
    // Source maps cost nothing unless Node is told to apply them.
    expect(environmentOf(prod, handler)['NODE_OPTIONS']).toBe('--enable-source-maps');
  });

  it.each(['connect', 'callback'] as const)(
    'bundle the AWS SDK into %s instead of loading the runtime copy',
    (handler) => {
      const { code } = bundleOf(handler);
      // Strings only the SDK's own code carries: its user agent header and DynamoDB's JSON target.
      expect(code).toContain('x-amz-user-agent');
      expect(code).toContain('DynamoDB_20120810');
      expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
    },
  );

  it('load no AWS SDK in the outcome bundle', () => {
    expect(bundleOf('outcome').code).not.toContain('x-amz-user-agent');
  });

  it("bundle the token client without axios's multipart, redirect and proxy packages", () => {
    const { code } = bundleOf('callback');
    expect(code).toMatch(/AxiosError/);
    // mime-db's table (through form-data), follow-redirects' and the proxy agent's debug namespaces.
    expect(code).not.toContain('application/vnd.openxmlformats');
    expect(code).not.toContain('follow-redirects');
    expect(code).not.toContain('https-proxy-agent');
  });

  it.each(HANDLER_NAMES)('log %s to its own log group with the configured retention', (handler) => {
    for (const [, c] of connectors()) {
      const logGroupId = logicalIdOf(c.stateless, c.stateless.handlers[handler].logGroup);
      expect(functionProps(c, handler)['LoggingConfig']).toEqual({ LogGroup: { Ref: logGroupId } });
      const logGroup = resourcesOfType(c.statelessTemplate, 'AWS::Logs::LogGroup')[logGroupId] as Json;
      expect(propertiesOf(logGroup)['RetentionInDays']).toBe(c.config.logRetention);
    }
  });

  it('create no log-retention custom resource (the deprecated logRetention prop is not used)', () => {
    for (const [, c] of connectors()) c.statelessTemplate.resourceCountIs('Custom::LogRetention', 0);
  });

  it.each(HANDLER_NAMES)('give %s the agreed environment variables and nothing else', (handler) => {
    for (const [name, c] of connectors()) {
      const env = environmentOf(c, handler);
      const expected = [
        'APP_ENV',
        'APP_NAME',
        'QBO_ENVIRONMENT',
        'QBO_REDIRECT_URI',
        'QBO_SCOPES',
        'QBO_CREDENTIALS_SECRET_ID',
        'FLOW_TABLE_NAME',
        'CONNECTION_TABLE_NAME',
        'FLOW_TTL_SECONDS',
        'TOKEN_REQUEST_TIMEOUT_MS',
        'COMPANY_CHECK_TIMEOUT_MS',
        'QBO_API_BASE_URL',
        'POWERTOOLS_SERVICE_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_LOG_LEVEL',
        'NODE_OPTIONS',
        ...(c.config.appReturnUrl === undefined ? [] : ['APP_RETURN_URL']),
        ...(c.config.appSuccessUrl === undefined ? [] : ['APP_SUCCESS_URL']),
        ...(c.config.appFailureUrl === undefined ? [] : ['APP_FAILURE_URL']),
      ];
      expect(Object.keys(env).sort()).toEqual(expected.sort());
      expect(env).toMatchObject({
        APP_ENV: name,
        APP_NAME: c.config.appName,
        QBO_ENVIRONMENT: c.config.qboEnvironment,
        QBO_SCOPES: 'com.intuit.quickbooks.accounting',
        FLOW_TTL_SECONDS: '900',
        TOKEN_REQUEST_TIMEOUT_MS: '8000',
        COMPANY_CHECK_TIMEOUT_MS: '3000',
        // B6: the company check calls the accounting API host of the keys' environment.
        QBO_API_BASE_URL:
          c.config.qboEnvironment === 'production'
            ? 'https://quickbooks.api.intuit.com'
            : 'https://sandbox-quickbooks.api.intuit.com',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      });
      expect(nameOf(c, env['QBO_CREDENTIALS_SECRET_ID'])).toBe('CredentialsSecret.Ref');
      expect(nameOf(c, env['FLOW_TABLE_NAME'])).toBe('FlowTable.Ref');
      expect(nameOf(c, env['CONNECTION_TABLE_NAME'])).toBe('ConnectionTable.Ref');
    }
    expect(environmentOf(staging, handler)['APP_RETURN_URL']).toBe(STAGING.appReturnUrl);
    expect(environmentOf(staging, handler)['APP_SUCCESS_URL']).toBe(STAGING.appSuccessUrl);
    expect(environmentOf(staging, handler)['APP_FAILURE_URL']).toBe(STAGING.appFailureUrl);
  });

  it('run dev against Intuit sandbox and prod against Intuit production', () => {
    expect(environmentOf(dev, 'callback')['QBO_ENVIRONMENT']).toBe('sandbox');
    expect(environmentOf(prod, 'callback')['QBO_ENVIRONMENT']).toBe('production');
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
      const secrets = Object.values(resourcesOfType(c.statefulTemplate, 'AWS::SecretsManager::Secret')).map(
        propertiesOf,
      );
      expect(secrets).toHaveLength(1);
      expect(JSON.parse(secrets[0]!['SecretString'] as string)).toEqual({
        clientId: PLACEHOLDER_CREDENTIAL,
        clientSecret: PLACEHOLDER_CREDENTIAL,
        environment: c.config.qboEnvironment,
      });
      expect(secrets[0]!['GenerateSecretString']).toBeUndefined();
    }
  });

  it('nothing but that secret mentions a client secret, in templates or in cdk.json', () => {
    for (const [, c] of connectors()) {
      expect(JSON.stringify(c.statelessTemplate.toJSON())).not.toMatch(/clientSecret|REPLACE_ME/);
      const statefulWithoutSecret = { ...c.statefulTemplate.toJSON()['Resources'] };
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
        AttributeDefinitions: [{ AttributeName: 'realmId', AttributeType: 'S' }],
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

  /** Names that must be unique in an account and region, so a fixed one would clash across environments. */
  const UNIQUE_NAME_PROPERTIES: [string, string][] = [
    ['AWS::DynamoDB::Table', 'TableName'],
    ['AWS::KMS::Alias', 'AliasName'],
    ['AWS::SecretsManager::Secret', 'Name'],
    ['AWS::Lambda::Function', 'FunctionName'],
    ['AWS::IAM::Role', 'RoleName'],
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

describe('alarms', () => {
  const CONNECTOR_ALARMS: [string, keyof EnvironmentConfig['alarmThresholds'], string][] = [
    [METRICS.InvalidGrant, 'invalidGrant', RUNBOOK_ANCHORS.invalidGrant],
    [METRICS.InvalidClient, 'invalidClient', RUNBOOK_ANCHORS.invalidClient],
    [METRICS.ConfigError, 'configError', RUNBOOK_ANCHORS.configError],
    [METRICS.TokenExchangeFailed, 'tokenExchangeFailed', RUNBOOK_ANCHORS.tokenExchangeFailed],
    [METRICS.TokenExchangeAmbiguous, 'tokenExchangeAmbiguous', RUNBOOK_ANCHORS.tokenExchangeAmbiguous],
    [METRICS.TokenStoreFailed, 'tokenStoreFailed', RUNBOOK_ANCHORS.tokenStoreFailed],
    [METRICS.RealmMismatch, 'realmMismatch', RUNBOOK_ANCHORS.realmMismatch],
    [METRICS.CompanyCheckUnavailable, 'companyCheckUnavailable', RUNBOOK_ANCHORS.companyCheckUnavailable],
    [METRICS.SecretsUnavailable, 'secretsUnavailable', RUNBOOK_ANCHORS.secretsUnavailable],
    [METRICS.StorageUnavailable, 'storageUnavailable', RUNBOOK_ANCHORS.storageUnavailable],
    [METRICS.UnexpectedError, 'lambdaErrors', RUNBOOK_ANCHORS.lambdaErrors],
  ];

  it.each(CONNECTOR_ALARMS)(
    'watch %s as the handlers emit it (service and Environment dimensions, Sum) at the configured threshold',
    (metricName, threshold, anchor) => {
      for (const [name, c] of connectors()) {
        const matching = alarms(c).filter(
          (a) => a['Namespace'] === METRIC_NAMESPACE && a['MetricName'] === metricName,
        );
        expect(matching).toHaveLength(1);
        expect(matching[0]).toMatchObject({
          Statistic: 'Sum',
          Period: 300,
          EvaluationPeriods: 1,
          Threshold: c.config.alarmThresholds[threshold],
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        expect(sortedDimensions(matching[0]!)).toEqual([
          { Name: 'Environment', Value: name },
          { Name: 'service', Value: SERVICE_NAME },
        ]);
        expect(matching[0]!['AlarmDescription']).toContain(`Runbook: docs/runbook.md#${anchor}`);
      }
    },
  );

  it('page on any invalid_grant in 5 minutes by default', () => {
    const invalidGrant = alarms(prod).find((a) => a['MetricName'] === METRICS.InvalidGrant);
    expect(invalidGrant).toMatchObject({ Threshold: 1, Period: 300, Statistic: 'Sum' });
  });

  it.each(['Errors', 'Throttles'])('watch Lambda %s of each function', (metricName) => {
    for (const [, c] of connectors()) {
      const watched = alarms(c)
        .filter((a) => a['Namespace'] === 'AWS/Lambda' && a['MetricName'] === metricName)
        .map((a) => {
          expect(a).toMatchObject({ Statistic: 'Sum', Threshold: 1 });
          return nameOf(c, sortedDimensions(a)[0]!.Value);
        })
        .sort();
      expect(watched).toEqual(['CallbackFunction.Ref', 'ConnectFunction.Ref', 'OutcomeFunction.Ref']);
    }
  });

  it('watch 5xx answers of the HTTP API', () => {
    for (const [, c] of connectors()) {
      const apiId = logicalIdOf(c.stateless, c.stateless.api.httpApi);
      const api5xx = alarms(c).filter(
        (a) => a['Namespace'] === 'AWS/ApiGateway' && a['MetricName'] === '5xx',
      );
      expect(api5xx).toHaveLength(1);
      expect(api5xx[0]).toMatchObject({
        Statistic: 'Sum',
        Dimensions: [{ Name: 'ApiId', Value: { Ref: apiId } }],
      });
    }
  });

  it.each([
    ['ReadThrottleEvents', 'FlowTable'],
    ['WriteThrottleEvents', 'FlowTable'],
    ['ReadThrottleEvents', 'ConnectionTable'],
    ['WriteThrottleEvents', 'ConnectionTable'],
    ['SystemErrors', 'FlowTable'],
    ['SystemErrors', 'ConnectionTable'],
  ])('watch DynamoDB %s on the %s', (metricName, table) => {
    for (const [, c] of connectors()) {
      const watching = alarms(c).filter((a) =>
        ((a['Metrics'] ?? []) as { MetricStat?: { Metric: Json } }[]).some((m) => {
          const metric = m.MetricStat?.Metric;
          if (metric === undefined || metric['MetricName'] !== metricName) return false;
          const dims = metric['Dimensions'] as { Name: string; Value: unknown }[];
          return dims.some((d) => d.Name === 'TableName' && nameOf(c, d.Value) === `${table}.Ref`);
        }),
      );
      expect(watching).toHaveLength(1);
    }
  });

  it('every alarm notifies the encrypted topic on alarm and on recovery, and ignores missing data', () => {
    for (const [, c] of connectors()) {
      const topicRef = { Ref: logicalIdOf(c.stateless, c.stateless.alarms.topic) };
      const all = alarms(c);
      expect(all).toHaveLength(11 + 2 * 3 + 1 + 2 * 2);
      for (const alarm of all) {
        expect(alarm).toMatchObject({
          AlarmActions: [topicRef],
          OKActions: [topicRef],
          TreatMissingData: 'notBreaching',
        });
      }
    }
  });

  it('every alarm description links to a runbook entry that exists and has a Logs Insights query', () => {
    const sections = runbookSections();
    for (const [, c] of connectors()) {
      for (const alarm of alarms(c)) {
        const link = /Runbook: docs\/runbook\.md#([a-z0-9-]+)$/.exec(alarm['AlarmDescription'] as string);
        expect(link).not.toBeNull();
        const section = sections.get(link![1]!);
        expect(section).toBeDefined();
        expect(section).toMatch(/```[\s\S]*\b(fields|filter|stats)\b[\s\S]*```/);
      }
    }
  });

  it('the topic is KMS encrypted, refuses non-TLS publishers, and accepts this account’s alarms', () => {
    for (const [, c] of connectors()) {
      c.statelessTemplate.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: {} });
      const policy = propertiesOf(
        Object.values(resourcesOfType(c.statelessTemplate, 'AWS::SNS::TopicPolicy'))[0]!,
      );
      const statements = (policy['PolicyDocument'] as { Statement: Json[] }).Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' } }),
      );
    }
  });

  it('subscribe the alarm email only when one is configured', () => {
    staging.statelessTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: STAGING.alarmEmail,
    });
    prod.statelessTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('the dashboard', () => {
  it('shows connects, callbacks by outcome, invalid_grant, exchange latency and errors', () => {
    for (const [, c] of connectors()) {
      const dashboards = Object.values(resourcesOfType(c.statelessTemplate, 'AWS::CloudWatch::Dashboard'));
      expect(dashboards).toHaveLength(1);
      const body = JSON.stringify(propertiesOf(dashboards[0]!)['DashboardBody']);
      for (const metric of [
        METRICS.ConnectStarted,
        METRICS.CallbackConnected,
        METRICS.CallbackReplayed,
        METRICS.CallbackCancelled,
        METRICS.CallbackRejected,
        METRICS.InvalidGrant,
        METRICS.TokenExchangeLatency,
        METRICS.ConfigError,
        METRICS.StorageUnavailable,
      ]) {
        expect(body).toContain(`\\"${metric}\\"`);
      }
      expect(body).toContain('Callbacks by outcome');
      expect(body).toContain('Failed');
    }
  });
});

describe('cdk-nag', () => {
  it.each([
    ['AwsSolutions', () => new AwsSolutionsChecks()],
    ['Serverless', () => new ServerlessChecks()],
  ])('the %s pack reports nothing unacknowledged, errors or warnings', (_pack, makePack) => {
    for (const [, c] of connectors()) {
      const report = makePack().validateScope(c.app);
      const findings = report.violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} (${v.severity}) at ${r.constructPath}`),
      );
      expect(findings).toEqual([]);
    }
  });

  it('every acknowledgement is on a specific construct, is listed in lib/nag.ts and cites its reason', () => {
    const listed = new Set(Object.keys(NAG_ACKNOWLEDGEMENTS));
    const acknowledged: string[] = [];
    for (const [, c] of connectors()) {
      for (const construct of c.app.node.findAll()) {
        for (const entry of construct.node.metadata) {
          if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
          expect(Stack.isStack(construct) || construct === c.app).toBe(false);
          for (const [qualifiedId, reason] of Object.entries(entry.data as Record<string, string>)) {
            const id = qualifiedId.replace(/^annotation::/i, '');
            acknowledged.push(id);
            expect(listed.has(id)).toBe(true);
            expect(reason).toBe(NAG_ACKNOWLEDGEMENTS[id as keyof typeof NAG_ACKNOWLEDGEMENTS]);
          }
        }
      }
    }
    // Nothing listed that no environment needs.
    expect(new Set(acknowledged)).toEqual(listed);
    for (const reason of Object.values(NAG_ACKNOWLEDGEMENTS)) {
      expect(reason.length).toBeGreaterThan(80);
      // A requirement ID of docs/security.md, or the issue that fixed the decision.
      expect(reason).toMatch(/SECURITY\.md [A-G]\d|issue \d+/);
    }
  });

  it('acknowledges the API authorizer finding only on the three browser routes', () => {
    const routes = prod.app.node
      .findAll()
      .filter((c) =>
        c.node.metadata.some(
          (m) =>
            m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY &&
            Object.keys(m.data as object).some((k) => k.endsWith('AwsSolutions-APIG4')),
        ),
      )
      .map((c) => c.node.path)
      .sort();
    expect(routes).toEqual([
      'QboConnector-prod-Stateless/Api/HttpApi/GET--callback',
      'QboConnector-prod-Stateless/Api/HttpApi/GET--connect',
      'QboConnector-prod-Stateless/Api/HttpApi/GET--outcome--{kind}',
    ]);
  });
});
