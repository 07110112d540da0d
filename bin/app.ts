#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { CONNECTION_TABLE } from '../lambdas/core/table-schema';
import { EnvironmentConfigError, resolveConnectionIndexLimit } from '../lib/config/environments';
import { addConnectorStacks } from '../lib/connector-app';

// The only place that reads context; everything below receives typed configuration.
const app = new App();
try {
  const connectionIndexLimit = resolveConnectionIndexLimit(
    app.node.tryGetContext('connectionIndexes'),
    CONNECTION_TABLE.indexes?.length ?? 0,
  );
  addConnectorStacks(app, app.node.tryGetContext('env'), undefined, { connectionIndexLimit });
  app.synth();
} catch (error) {
  if (!(error instanceof EnvironmentConfigError)) throw error;
  // A configuration mistake is the operator's to fix: say which, without a stack trace.
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
}
