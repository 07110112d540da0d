import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { cdkBundlingOptions, HANDLER_BUNDLING } from '../handler-bundling';
import { acknowledgeNagFinding } from '../nag';

export interface HandlerFunctionProps {
  /** TypeScript entry file exporting `handler`. */
  readonly entry: string;
  readonly description: string;
  /** Behind API Gateway, must fit inside its 29 s integration limit (docs/security.md C4). */
  readonly timeout: Duration;
  /**
   * Retries Lambda makes of a failed asynchronous invocation (a schedule's).
   * @default - Lambda's default (2); irrelevant for API Gateway's synchronous calls
   */
  readonly asyncRetryAttempts?: number;
  /** @default 256 */
  readonly memorySize?: number;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Repository root, for esbuild. */
  readonly projectRoot: string;
  readonly depsLockFilePath: string;
}

/**
 * A handler bundled locally by esbuild (never Docker) with the AWS SDK inside, Node.js 22 on arm64, with its own log group
 * and its own role. The role starts with nothing but the right to write to that log group: callers
 * grant table, key and secret access explicitly per function (docs/security.md D2), and no AWS managed
 * policy is attached.
 */
export class HandlerFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    // What AWSLambdaBasicExecutionRole grants, narrowed to this function's own log group.
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      ...(props.asyncRetryAttempts === undefined ? {} : { retryAttempts: props.asyncRetryAttempts }),
      role: this.role,
      logGroup: this.logGroup,
      projectRoot: props.projectRoot,
      depsLockFilePath: props.depsLockFilePath,
      environment: {
        ...props.environment,
        // esbuild writes source maps; Node only applies them to stack traces when asked.
        NODE_OPTIONS: HANDLER_BUNDLING.nodeOptions,
      },
      // Shared with the benchmark (lib/handler-bundling.ts): the AWS SDK bundled, minified and
      // tree-shaken, which starts faster than loading the runtime's own copy from disk.
      bundling: cdkBundlingOptions(),
    });
    for (const rule of [
      'AwsSolutions-L1',
      'Serverless-LambdaLatestVersion',
      'Serverless-LambdaDLQ',
      'Serverless-LambdaTracing',
    ] as const) {
      acknowledgeNagFinding(this.function, rule);
    }
    if (props.asyncRetryAttempts !== undefined) {
      acknowledgeNagFinding(this.function, 'Serverless-LambdaAsyncFailureDestination');
    }
  }
}
