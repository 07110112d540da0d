import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  DomainName,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { CustomDomainConfig } from '../config/environments';
import { acknowledgeNagFinding } from '../nag';

/** API Gateway's hard limit for an integration to answer. */
const API_GATEWAY_MAX_INTEGRATION_TIMEOUT = Duration.seconds(29);

/**
 * Access log line. Only `$context` fields that cannot carry the query string (codes, states) or
 * cookies: the route key and the status, never `$context.path` with a query or any header but the
 * user agent (docs/design.md invariant 4).
 */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  domainName: '$context.domainName',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
} as const;

export interface ConnectorApiProps {
  /** Default-route throttling (requests per second, burst). */
  readonly throttling: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default - the `execute-api` endpoint */
  readonly customDomain?: CustomDomainConfig;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

/**
 * The public HTTP API: browser redirect routes only, one `$default` stage at the root (the
 * `__Host-` state cookie needs `Path=/`, so no stage prefix), no CORS (docs/security.md B5), throttled,
 * with JSON access logs.
 */
export class ConnectorApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogGroup: LogGroup;
  /** `https://<host>` the browser sees, without trailing slash. */
  readonly baseUrl: string;
  /** Set when a custom domain is configured: the target for the operator's DNS record. */
  readonly domainName?: DomainName;

  constructor(scope: Construct, id: string, props: ConnectorApiProps) {
    super(scope, id);

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'QuickBooks Online OAuth connector',
      createDefaultStage: false,
      // With a custom domain, the execute-api host is switched off: the state cookie is bound to one
      // host, and the redirect URI registered at Intuit must be the only way in (docs/security.md A2, A3).
      disableExecuteApiEndpoint: props.customDomain !== undefined,
    });

    if (props.customDomain !== undefined) {
      this.domainName = new DomainName(this, 'DomainName', {
        domainName: props.customDomain.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
        securityPolicy: SecurityPolicy.TLS_1_2,
      });
      this.baseUrl = `https://${props.customDomain.domainName}`;
    } else {
      this.baseUrl = this.httpApi.apiEndpoint;
    }

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });

    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttling.rateLimit, burstLimit: props.throttling.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
      ...(this.domainName === undefined ? {} : { domainMapping: { domainName: this.domainName } }),
    });
  }

  /** Routes `GET <path>` to `handler`, waiting for it a little longer than its own timeout. */
  addGetRoute(path: string, id: string, handler: IFunction, handlerTimeout: Duration): void {
    if (handlerTimeout.toSeconds() >= API_GATEWAY_MAX_INTEGRATION_TIMEOUT.toSeconds()) {
      throw new Error(`${path}: a handler timeout must stay under API Gateway's 29 s integration limit`);
    }
    const timeout = Duration.seconds(
      Math.min(handlerTimeout.toSeconds() + 1, API_GATEWAY_MAX_INTEGRATION_TIMEOUT.toSeconds()),
    );
    const routes = this.httpApi.addRoutes({
      path,
      methods: [HttpMethod.GET],
      integration: new HttpLambdaIntegration(id, handler, {
        payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        timeout,
      }),
    });
    for (const route of routes) acknowledgeNagFinding(route, 'AwsSolutions-APIG4');
  }
}
