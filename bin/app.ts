#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { EnvironmentConfigError } from '../lib/config/environments';
import { addConnectorStacks } from '../lib/connector-app';

// The only place that reads the environment name; everything below receives typed configuration.
const app = new App();
try {
  addConnectorStacks(app, app.node.tryGetContext('env'));
  app.synth();
} catch (error) {
  if (!(error instanceof EnvironmentConfigError)) throw error;
  // A configuration mistake is the operator's to fix: say which, without a stack trace.
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
}
