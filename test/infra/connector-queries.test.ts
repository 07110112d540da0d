/** The saved Logs Insights queries: one per registered log code, each named in the runbook. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_CODE_NAMES } from '../../lambdas/core/telemetry-codes';
import { codeExchangedTwiceQueryName, logCodeQueryName } from '../../lib/constructs/connector-queries';
import { synthesizeConnector, type SynthesizedConnector } from './support/connector-app';
import { HANDLER_NAMES } from './support/template';

let dev: SynthesizedConnector;
beforeAll(() => {
  dev = synthesizeConnector('dev');
});

interface QueryDefinitionProperties {
  readonly Name: string;
  readonly QueryString: string;
  readonly LogGroupNames: unknown[];
}

function definitions(): QueryDefinitionProperties[] {
  return Object.values(dev.statelessTemplate.findResources('AWS::Logs::QueryDefinition')).map(
    (resource) => (resource as { Properties: QueryDefinitionProperties }).Properties,
  );
}

it('ships one saved query per log code, filtering on exactly that code over the log group of every function', () => {
  const byName = new Map(definitions().map((d) => [d.Name, d]));
  for (const code of LOG_CODE_NAMES) {
    const definition = byName.get(logCodeQueryName('dev', code));
    expect(definition).toBeDefined();
    expect(definition?.QueryString).toContain(`| filter code = "${code}"`);
    expect(definition?.QueryString).toMatch(
      /^fields @timestamp, level, code, message, reference, codeHashPrefix/,
    );
    expect(definition?.QueryString).toContain('intuitTid');
    // dev has no webhookUrl, so no webhook deliverer.
    expect(definition?.LogGroupNames).toHaveLength(HANDLER_NAMES.length);
  }
  expect(byName.get(codeExchangedTwiceQueryName('dev'))?.QueryString).toContain(
    'stats count(*) as exchanges by codeHashPrefix',
  );
  expect(definitions()).toHaveLength(LOG_CODE_NAMES.length + 1);
});

it('the runbook names every saved query it links', () => {
  const runbook = readFileSync(join(__dirname, '..', '..', 'docs', 'runbook.md'), 'utf8');
  const named = [...runbook.matchAll(/`QboConnector-<env>\/([A-Za-z_-]+)`/g)].map((m) => m[1]);
  expect(named.length).toBeGreaterThan(0);
  const shipped = new Set(definitions().map((d) => d.Name.replace('QboConnector-dev/', '')));
  for (const name of named) expect(shipped).toContain(name);
});
