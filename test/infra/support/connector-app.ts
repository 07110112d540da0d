import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { EnvironmentConfig } from '../../../lib/config/environments';
import {
  addConnectorStacks,
  type ConnectorStackOptions,
  type ConnectorStacks,
} from '../../../lib/connector-app';
import { PROJECT_ROOT } from '../../../lib/project-paths';

/** A synthesized environment of the connector, with what the specs need to look at it. */
export interface SynthesizedConnector extends ConnectorStacks {
  readonly app: App;
  readonly assembly: CloudAssembly;
  readonly statefulTemplate: Template;
  readonly statelessTemplate: Template;
}

/**
 * Synthesizes one environment exactly as `cdk synth --context env=<name>` would: same app code, same
 * feature flags (cdk.json's context), cdk-nag plugins included, bundling by local esbuild. Bundling
 * makes a synth cost seconds, so each spec file builds each environment once in `beforeAll`.
 */
export function synthesizeConnector(
  envName: string,
  environments?: Readonly<Record<string, EnvironmentConfig>>,
  options?: ConnectorStackOptions,
): SynthesizedConnector {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const app = new App({ context: cdkJson.context });
  const stacks = addConnectorStacks(app, envName, environments, options);
  const assembly = app.synth();
  return {
    ...stacks,
    app,
    assembly,
    statefulTemplate: Template.fromStack(stacks.stateful),
    statelessTemplate: Template.fromStack(stacks.stateless),
  };
}

/** The logical ID CloudFormation knows a construct's resource by. */
export function logicalIdOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

export type Json = Record<string, unknown>;

export function resourcesOfType(template: Template, type: string): Record<string, Json> {
  return template.findResources(type);
}

export function propertiesOf(resource: Json): Json {
  return (resource['Properties'] ?? {}) as Json;
}
