import { Validations } from 'aws-cdk-lib';
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
    'Invoked synchronously by API Gateway only: a failure is answered to the browser with a page and counted ' +
    'by a metric and an alarm (docs/security.md E3, G2, G3). There is no asynchronous event to keep in a ' +
    'dead-letter queue, and a code must never be retried (C3).',
  'Serverless-LambdaTracing':
    'HTTP APIs cannot emit X-Ray traces, so a trace would start at the function with no upstream; requests ' +
    'are correlated by the API Gateway request id in access logs and the Powertools logs, both free of ' +
    'secrets (docs/security.md F2). Active tracing would also grant every role xray:* on "*" against D2.',
  'Serverless-SNSRedrivePolicy':
    'The alarm email subscription is an optional convenience (docs/deploy.md), not the record of an alarm: ' +
    'an alarm whose email is not delivered stays in ALARM in CloudWatch and on the dashboard, and a ' +
    'dead-letter queue of alarm emails would have no reader.',
} as const;
export type AcknowledgedRule = keyof typeof NAG_ACKNOWLEDGEMENTS;

/** Acknowledges `rule` on `scope` and everything under it, with the reason from the list above. */
export function acknowledgeNagFinding(scope: IConstruct, rule: AcknowledgedRule): void {
  Validations.of(scope).acknowledge({ id: rule, reason: NAG_ACKNOWLEDGEMENTS[rule] });
}
