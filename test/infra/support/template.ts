import type { Template } from 'aws-cdk-lib/assertions';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { AlwaysDeployedHandler as HandlerName } from '../../../lib/stateless-stack';
import {
  logicalIdOf,
  propertiesOf,
  resourcesOfType,
  type Json,
  type SynthesizedConnector,
} from './connector-app';

/**
 * Every function each environment deploys, written out: the deployed set is the contract (the
 * webhook deliverer comes only with a `webhookUrl`; test/infra/webhooks.test.ts).
 */
export type { HandlerName };
export const HANDLER_NAMES: HandlerName[] = ['connect', 'callback', 'outcome', 'api', 'refresher', 'events'];
/** The functions API Gateway invokes. */
export const HTTP_HANDLER_NAMES: HandlerName[] = ['connect', 'callback', 'outcome', 'api'];

/** `api` -> `Api`: how {@link nameOf} labels a function's resources (`ApiFunction`, `ApiLogGroup`). */
export function labelOf(handler: HandlerName): string {
  return handler[0]!.toUpperCase() + handler.slice(1);
}

/** A template output: its value and, for cross-stack references, the name it is exported under. */
export interface TemplateOutput {
  readonly Value: unknown;
  readonly Export?: { readonly Name: string };
}

/** The Outputs section of a template, by logical ID. */
export function outputsOf(template: Template): Record<string, TemplateOutput> {
  return template.toJSON()['Outputs'] as Record<string, TemplateOutput>;
}

/** The properties of a handler's `AWS::Lambda::Function`. */
export function functionProps(c: SynthesizedConnector, handler: HandlerName): Json {
  const id = logicalIdOf(c.stateless, c.stateless.handlers[handler].function);
  return propertiesOf(resourcesOfType(c.statelessTemplate, 'AWS::Lambda::Function')[id] as Json);
}

/** The environment variables a handler's function is deployed with. */
export function environmentOf(c: SynthesizedConnector, handler: HandlerName): Record<string, unknown> {
  return (functionProps(c, handler)['Environment'] as { Variables: Record<string, unknown> }).Variables;
}

/**
 * Names the resource a policy or dimension points at, following cross-stack imports back to the
 * stateful stack: `FlowTable.Arn`, `CredentialsSecret.Ref` (a secret's Ref is its ARN),
 * `ConnectLogGroup.Arn`, `ConnectionTable.Arn/index/ByTenant` (a join, its parts named), or the
 * literal string.
 */
export function nameOf(c: SynthesizedConnector, value: unknown): string {
  const statefulNames: Record<string, string> = {
    [logicalIdOf(c.stateful, c.stateful.flowTable)]: 'FlowTable',
    [logicalIdOf(c.stateful, c.stateful.connectionTable)]: 'ConnectionTable',
    [logicalIdOf(c.stateful, c.stateful.connectionTableKey)]: 'ConnectionTableKey',
    [logicalIdOf(c.stateful, c.stateful.tokenKey)]: 'TokenKey',
    [logicalIdOf(c.stateful, c.stateful.credentialsSecret)]: 'CredentialsSecret',
    [logicalIdOf(c.stateful, c.stateful.connectLinkKeySecret)]: 'ConnectLinkKeySecret',
  };
  if (c.stateful.webhookSecret !== undefined)
    statefulNames[logicalIdOf(c.stateful, c.stateful.webhookSecret)] = 'WebhookSecret';
  const statelessNames: Record<string, string> = {};
  statelessNames[logicalIdOf(c.stateless, c.stateless.api.httpApi)] = 'HttpApi';
  for (const handler of HANDLER_NAMES) {
    const label = labelOf(handler);
    statelessNames[logicalIdOf(c.stateless, c.stateless.handlers[handler].logGroup)] = `${label}LogGroup`;
    statelessNames[logicalIdOf(c.stateless, c.stateless.handlers[handler].function)] = `${label}Function`;
  }
  const webhooks = c.stateless.webhooks;
  if (webhooks !== undefined) {
    statelessNames[logicalIdOf(c.stateless, webhooks.handler.logGroup)] = 'WebhooksLogGroup';
    statelessNames[logicalIdOf(c.stateless, webhooks.handler.function)] = 'WebhooksFunction';
    statelessNames[logicalIdOf(c.stateless, webhooks.delivery.queue)] = 'WebhookQueue';
    statelessNames[logicalIdOf(c.stateless, webhooks.delivery.deadLetters)] = 'WebhookDeadLetters';
    statelessNames[logicalIdOf(c.stateless, webhooks.delivery.rule)] = 'WebhookRule';
  }
  const describe = (ref: unknown, names: Record<string, string>): string => {
    const r = ref as Json;
    if (typeof r['Ref'] === 'string') return `${names[r['Ref']] ?? r['Ref']}.Ref`;
    const getAtt = r['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt !== undefined) return `${names[getAtt[0]] ?? getAtt[0]}.${getAtt[1]}`;
    return JSON.stringify(ref);
  };
  if (typeof value === 'string') return value;
  const join = (value as Json)['Fn::Join'] as [string, unknown[]] | undefined;
  if (join !== undefined) return join[1].map((part) => nameOf(c, part)).join(join[0]);
  const importName = (value as Json)['Fn::ImportValue'];
  if (typeof importName === 'string') {
    const outputs = outputsOf(c.statefulTemplate);
    const exported = Object.values(outputs).find((o) => o.Export?.Name === importName);
    if (exported === undefined) throw new Error(`no export ${importName}`);
    return describe(exported.Value, statefulNames);
  }
  return describe(value, statelessNames);
}

/**
 * Every `action resource` pair a role is allowed, across all the policies attached to it. Fails the
 * calling test on any Deny or conditional statement, which this reading would misrepresent.
 */
export function permissionsOf(c: SynthesizedConnector, role: Role): string[] {
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

/** Every statement of every IAM policy in both stacks. */
export function allIamStatements(c: SynthesizedConnector): Json[] {
  return [c.statefulTemplate, c.statelessTemplate].flatMap((template) =>
    Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).flatMap(
      (policy) => (propertiesOf(policy)['PolicyDocument'] as { Statement: Json[] }).Statement,
    ),
  );
}

/** The properties of every CloudWatch alarm of the stateless stack. */
export function alarms(c: SynthesizedConnector): Json[] {
  return Object.values(resourcesOfType(c.statelessTemplate, 'AWS::CloudWatch::Alarm')).map(propertiesOf);
}

/** An alarm's dimensions in name order, so they compare regardless of how CDK listed them. */
export function sortedDimensions(alarm: Json): { Name: string; Value: unknown }[] {
  return [...(alarm['Dimensions'] as { Name: string; Value: unknown }[])].sort((a, b) =>
    a.Name.localeCompare(b.Name),
  );
}
