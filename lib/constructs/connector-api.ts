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
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HttpMethod as RouteMethod } from '../../lambdas/routes';
import type { CustomDomainConfig } from '../config/environments';
import { acknowledgeNagFinding } from '../nag';

/** The registry's methods (lambdas/routes.ts) as API Gateway's. */
const HTTP_METHODS: Readonly<Record<RouteMethod, HttpMethod>> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  DELETE: HttpMethod.DELETE,
  ANY: HttpMethod.ANY,
};

/**
 * The one stage, at the root of the URL: the `__Host-` state cookie needs `Path=/`. In
 * `execute-api` ARNs it is still named `$default`.
 */
const STAGE_NAME = '$default';

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
 * The public HTTP API: browser redirect routes without authorizer and the app's `/api/*` routes
 * behind IAM authorisation, one `$default` stage at the root (the
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
      stageName: STAGE_NAME,
      autoDeploy: true,
      throttle: { rateLimit: props.throttling.rateLimit, burstLimit: props.throttling.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
      ...(this.domainName === undefined ? {} : { domainMapping: { domainName: this.domainName } }),
    });
  }

  /**
   * The integration of one function, waiting for it a little longer than its own timeout. Build one
   * per function and pass it to every route the function serves.
   */
  integrationFor(id: string, handler: IFunction, handlerTimeout: Duration): HttpLambdaIntegration {
    if (handlerTimeout.toSeconds() >= API_GATEWAY_MAX_INTEGRATION_TIMEOUT.toSeconds()) {
      throw new Error(`${id}: a handler timeout must stay under API Gateway's 29 s integration limit`);
    }
    return new HttpLambdaIntegration(id, handler, {
      payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
      timeout: Duration.seconds(handlerTimeout.toSeconds() + 1),
    });
  }

  /**
   * Routes `<method> <path>` to `integration`. `iam` routes need a SigV4 signature of a principal
   * allowed `execute-api:Invoke` on them (docs/security.md H1); `none` routes are browser pages,
   * which no authorizer can protect (A2, B1).
   */
  addRoute(
    method: RouteMethod,
    path: string,
    integration: HttpLambdaIntegration,
    authorization: 'iam' | 'none',
  ): void {
    const routes = this.httpApi.addRoutes({
      path,
      methods: [HTTP_METHODS[method]],
      integration,
      ...(authorization === 'iam' ? { authorizer: new HttpIamAuthorizer() } : {}),
    });
    if (authorization === 'none') {
      for (const route of routes) acknowledgeNagFinding(route, 'AwsSolutions-APIG4');
    }
  }

  /**
   * The `execute-api` resource of every request under `pathPattern` on this API's one stage, any
   * method. HTTP APIs name a request `<apiId>/<stage>/<METHOD>/<path without leading slash>`, and
   * the `$default` stage is named `$default` there although it adds no prefix to the URL.
   */
  arnForPath(pathPattern: string): string {
    return this.httpApi.arnForExecuteApi('*', pathPattern, STAGE_NAME);
  }
}
