/** The Lambda functions: runtime, memory, timeouts, log groups, environment variables and bundles. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FUNCTIONS } from '../../lambdas/routes';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../../lambdas/core/telemetry-codes';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  type Json,
  type SynthesizedConnector,
} from './support/connector-app';
import {
  STAGING,
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';
import {
  HANDLER_NAMES,
  HTTP_HANDLER_NAMES,
  environmentOf,
  functionProps,
  nameOf,
  type HandlerName,
} from './support/template';

let dev: SynthesizedConnector;
let prod: SynthesizedConnector;
let staging: SynthesizedConnector;

beforeAll(() => {
  ({ dev, prod, staging } = synthesizeConnectorEnvironments());
}, SYNTHESIS_TIMEOUT_MS);

describe('the functions', () => {
  it.each(HANDLER_NAMES)('run %s on Node.js 22, arm64, 256 MB, with its registry timeout', (handler) => {
    for (const [, c] of connectors()) {
      expect(functionProps(c, handler)).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: 256,
        Timeout: FUNCTIONS[handler].timeoutSeconds,
        Handler: 'index.handler',
      });
    }
  });

  it.each(HTTP_HANDLER_NAMES)('give %s, behind API Gateway, a timeout under its 29 s limit', (handler) => {
    for (const [, c] of connectors()) {
      expect(functionProps(c, handler)['Timeout']).toBeLessThan(29);
    }
  });

  it('give the refresher its five minutes, and no Lambda retry of a failed run', () => {
    for (const [, c] of connectors()) {
      expect(functionProps(c, 'refresher')['Timeout']).toBe(300);
      const configs = Object.values(
        resourcesOfType(c.statelessTemplate, 'AWS::Lambda::EventInvokeConfig'),
      ).map(propertiesOf);
      expect(configs).toHaveLength(1);
      expect(configs[0]).toMatchObject({ MaximumRetryAttempts: 0, Qualifier: '$LATEST' });
      expect(nameOf(c, configs[0]!['FunctionName'])).toBe('RefresherFunction.Ref');
    }
  });

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
        'TOKEN_KEY_ARN',
        'FLOW_TTL_SECONDS',
        'TOKEN_REQUEST_TIMEOUT_MS',
        'COMPANY_CHECK_TIMEOUT_MS',
        'QBO_API_BASE_URL',
        'REQUIRE_SIGNED_CONNECT_LINKS',
        ...(['connect', 'callback', 'api'].includes(handler) ? ['CONNECT_LINK_KEY_SECRET_ID'] : []),
        'POWERTOOLS_SERVICE_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_LOG_LEVEL',
        'NODE_OPTIONS',
        ...(c.config.appReturnUrl === undefined ? [] : ['APP_RETURN_URL']),
        ...(c.config.appSuccessUrl === undefined ? [] : ['APP_SUCCESS_URL']),
        ...(c.config.appFailureUrl === undefined ? [] : ['APP_FAILURE_URL']),
        ...(handler === 'events' ? ['EVENT_BUS_NAME'] : []),
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
      expect(nameOf(c, env['TOKEN_KEY_ARN'])).toBe('TokenKey.Arn');
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
