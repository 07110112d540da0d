import { Stack, Validations } from 'aws-cdk-lib';
// cdk-nag's own rendering of a template value in a finding id, so an acknowledgement names the
// finding exactly as the rule reports it.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/**
 * Every cdk-nag finding this project accepts, with the reason, in one reviewable list. A finding is
 * acknowledged on the construct that makes the decision (never on a whole stack or app), so a new
 * resource of the same kind is checked afresh. Reasons cite the requirement IDs of
 * docs/security.md (or the design decision) that make the finding safe to accept.
 */
export const NAG_ACKNOWLEDGEMENTS = {
  'AwsSolutions-APIG4':
    "Browser redirect routes: the user's browser reaches them by a top-level GET from Intuit or the app and " +
    'cannot present a token, so no authorizer can apply. /connect and /callback are protected by the ' +
    'single-use, expiring state bound to a __Host- cookie (docs/security.md A2, B1); /outcome/{kind} renders a ' +
    'fixed page and reads no data.',
  'AwsSolutions-SMG4':
    "The secret holds the Intuit app's client id and secret, which only Intuit's developer portal can " +
    'rotate; Secrets Manager has no rotation API to call. Rotation is a manual operator step ' +
    '(docs/deploy.md, docs/runbook.md#invalidclient) and the value never leaves Secrets Manager (docs/security.md F3).',
  'AwsSolutions-L1':
    'Node.js 22 (LTS, supported by Lambda) is the runtime the project deploys, and the handlers are built, tested and ' +
    'benchmarked on (docs/design.md performance budget); moving to a newer runtime is a deliberate change with ' +
    'its own test run, not a lint fix.',
  'Serverless-LambdaLatestVersion':
    'Same decision as AwsSolutions-L1: Node.js 22 is the runtime the project deploys and the handlers are tested ' +
    'on (docs/design.md performance budget).',
  'Serverless-LambdaDLQ':
    'The HTTP functions are invoked synchronously by API Gateway: a failure is answered to the caller and counted ' +
    'by a metric and an alarm (docs/security.md E3, G2, G3), and a code must never be retried (C3). The ' +
    'keep-alive refresher is invoked by its schedule with no retries: a failed run raises its Errors alarm and ' +
    'the next run reads the due connections from the index again (docs/deploy.md), so a dead-letter queue ' +
    'would only hold stale "run now" events that nobody needs to replay.',
  'Serverless-LambdaTracing':
    'HTTP APIs cannot emit X-Ray traces, so a trace would start at the function with no upstream; requests ' +
    'are correlated by the API Gateway request id in access logs and the Powertools logs, both free of ' +
    'secrets (docs/security.md F2). Active tracing would also grant every role xray:* on "*" against D2.',
  'Serverless-LambdaAsyncFailureDestination':
    'The keep-alive refresher, the one function invoked asynchronously (by its schedule, with no retries): a ' +
    'failed run raises its Errors alarm, and the next run reads the due connections from the index again ' +
    '(docs/deploy.md), so a failure destination would only collect stale "run now" events with nothing to replay.',
  'AwsSolutions-IAM5':
    "ApiCallerRole: execute-api:Invoke on this API's /api/* routes of its $default stage, any method. The " +
    'wildcards stand for the realmId in the path and the method, which an ARN cannot list; the API id and stage ' +
    'are exact, the browser routes are outside the pattern, and the role is assumable only by the configured ' +
    'principals (docs/security.md H1, docs/deploy.md).',
  'Serverless-SNSRedrivePolicy':
    'The alarm email subscription is an optional convenience (docs/deploy.md), not the record of an alarm: ' +
    'an alarm whose email is not delivered stays in ALARM in CloudWatch and on the dashboard, and a ' +
    'dead-letter queue of alarm emails would have no reader.',
  'AwsSolutions-SQS3':
    "The lifecycle-event stream's failure queue is itself the dead-letter destination: it holds Lambda's " +
    'description of a batch it gave up on (shard and sequence numbers, no item data), raises an alarm, and is ' +
    'read by the operator (docs/runbook.md#lifecycleeventsfailed); a queue behind it would have no reader ' +
    '(docs/security.md I4).',
  'Serverless-SQSRedrivePolicy':
    'Same decision as AwsSolutions-SQS3: the failure queue is the last stop, alarmed and read by the operator ' +
    '(docs/runbook.md#lifecycleeventsfailed, docs/security.md I4).',
} as const;
export type AcknowledgedRule = keyof typeof NAG_ACKNOWLEDGEMENTS;

/** Acknowledges `rule` on `scope` and everything under it, with the reason from the list above. */
export function acknowledgeNagFinding(scope: IConstruct, rule: AcknowledgedRule): void {
  Validations.of(scope).acknowledge({ id: rule, reason: NAG_ACKNOWLEDGEMENTS[rule] });
}

/**
 * Acknowledges one finding of `rule` on `scope`: the finding about `resource` (a policy resource,
 * tokens allowed), for rules that report each wildcard resource on its own (AwsSolutions-IAM5). Any
 * other wildcard on the same construct is still reported.
 */
export function acknowledgeNagResourceFinding(
  scope: IConstruct,
  rule: AcknowledgedRule,
  resource: string,
): void {
  const finding = `Resource::${flattenCfnReference(Stack.of(scope).resolve(resource))}`;
  Validations.of(scope).acknowledge({ id: `${rule}[${finding}]`, reason: NAG_ACKNOWLEDGEMENTS[rule] });
}
