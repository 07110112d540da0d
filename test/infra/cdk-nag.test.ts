/** cdk-nag: both packs pass, and every acknowledgement is listed, justified and narrowly placed. */
import { Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { NAG_ACKNOWLEDGEMENTS } from '../../lib/nag';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { synthesizeConnector, type SynthesizedConnector } from './support/connector-app';
import {
  SYNTHESIS_TIMEOUT_MS,
  connectors,
  synthesizeConnectorEnvironments,
} from './support/connector-environments';

let prod: SynthesizedConnector;
/** The shipped environments and one with a webhookUrl, whose resources only exist there. */
let checked: [string, SynthesizedConnector][];

beforeAll(() => {
  ({ prod } = synthesizeConnectorEnvironments());
  const hooked = { ...ENVIRONMENTS.dev, webhookUrl: 'https://app.example.com/hooks/quickbooks' };
  checked = [...connectors(), ['hooked', synthesizeConnector('hooked', { ...ENVIRONMENTS, hooked })]];
}, SYNTHESIS_TIMEOUT_MS);

describe('cdk-nag', () => {
  it.each([
    ['AwsSolutions', () => new AwsSolutionsChecks()],
    ['Serverless', () => new ServerlessChecks()],
  ])('the %s pack reports nothing unacknowledged, errors or warnings', (_pack, makePack) => {
    for (const [, c] of checked) {
      const report = makePack().validateScope(c.app);
      const findings = report.violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} (${v.severity}) at ${r.constructPath}`),
      );
      expect(findings).toEqual([]);
    }
  });

  it('every acknowledgement is on a specific construct, is listed in lib/nag.ts and cites its reason', () => {
    const listed = new Set(Object.keys(NAG_ACKNOWLEDGEMENTS));
    const acknowledged: string[] = [];
    for (const [, c] of checked) {
      for (const construct of c.app.node.findAll()) {
        for (const entry of construct.node.metadata) {
          if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
          expect(Stack.isStack(construct) || construct === c.app).toBe(false);
          for (const [qualifiedId, reason] of Object.entries(entry.data as Record<string, string>)) {
            // A finding-level acknowledgement (`Rule[Resource::…]`) carries its rule's reason.
            const id = qualifiedId.replace(/^annotation::/i, '').replace(/\[.*\]$/, '');
            acknowledged.push(id);
            expect(listed.has(id)).toBe(true);
            expect(reason).toBe(NAG_ACKNOWLEDGEMENTS[id as keyof typeof NAG_ACKNOWLEDGEMENTS]);
          }
        }
      }
    }
    // Nothing listed that no environment needs.
    expect(new Set(acknowledged)).toEqual(listed);
    for (const reason of Object.values(NAG_ACKNOWLEDGEMENTS)) {
      expect(reason.length).toBeGreaterThan(80);
      // A requirement ID of docs/security.md, or the document that records the decision.
      expect(reason).toMatch(/docs\/security\.md [A-I]\d|docs\/(design|deploy)\.md/);
    }
  });

  it("acknowledges the wildcard finding once, on the caller role's /api/* invoke resource", () => {
    for (const [, c] of checked) {
      const wildcard = c.app.node.findAll().flatMap((construct) =>
        construct.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) => Object.keys(m.data as object))
          .filter((k) => k.includes('AwsSolutions-IAM5'))
          .map((k) => `${construct.node.path} ${k.replace(/^annotation::/i, '')}`),
      );
      expect(wildcard).toHaveLength(1);
      expect(wildcard[0]).toMatch(
        /\/ApiCallerRole\/Role AwsSolutions-IAM5\[Resource::arn:(<AWS::Partition>|aws):execute-api:[^\]]*:<ApiHttpApi[0-9A-F]+>\/\$default\/\*\/api\/\*\]$/,
      );
    }
  });

  it('acknowledges the API authorizer finding only on the browser routes', () => {
    const routes = prod.app.node
      .findAll()
      .filter((c) =>
        c.node.metadata.some(
          (m) =>
            m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY &&
            Object.keys(m.data as object).some((k) => k.endsWith('AwsSolutions-APIG4')),
        ),
      )
      .map((c) => c.node.path)
      .sort();
    expect(routes).toEqual([
      'QboConnector-prod-Stateless/Api/HttpApi/GET--callback',
      'QboConnector-prod-Stateless/Api/HttpApi/GET--connect',
      'QboConnector-prod-Stateless/Api/HttpApi/GET--disconnect',
      'QboConnector-prod-Stateless/Api/HttpApi/GET--outcome--{kind}',
      'QboConnector-prod-Stateless/Api/HttpApi/GET--reconnect',
    ]);
  });
});
