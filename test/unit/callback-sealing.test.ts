/**
 * docs/security.md H3 in the callback: the new tokens are sealed for their company while the company
 * check runs, and what is stored is the sealed form; a key service that fails or does not answer
 * within the check's budget stores nothing and revokes nothing (C8).
 */
import type { NewConnection } from '../../lambdas/core/connection-store';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import { FAKE_TOKENS } from './fakes/fake-token-endpoint';
import { FlowHarness, REALM_ID } from './fakes/flow-harness';

function location(response: HttpResponse): string {
  return response.headers['Location'] ?? '';
}

describe('given a verified exchange, the callback seals the tokens before storing them (H3)', () => {
  it('H3: seals once, for the callback realm, and hands the store the sealed pair with the connection', async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow();

    const response = await h.callback(flow);

    expect(location(response)).toBe('/outcome/connected');
    expect(h.tokenEncrypter.sealed).toEqual([{ realmId: REALM_ID }]);
    const [, stored] = (h.ledger.callsOf('recordConnection')[0] ?? []) as [string, NewConnection];
    expect(stored.sealedTokens).toBeInstanceOf(Uint8Array);
    const sealedText = Buffer.from(stored.sealedTokens ?? new Uint8Array()).toString('latin1');
    expect(sealedText).not.toContain(FAKE_TOKENS.accessToken);
    expect(sealedText).not.toContain(FAKE_TOKENS.refreshToken);
  });

  it.each(['unavailable', 'hang'] as const)(
    'H3: a key service that is %s stores nothing, answers failed with a reference and logs KEY_SERVICE_UNAVAILABLE',
    async (behaviour) => {
      const h = new FlowHarness({ config: { companyCheckTimeoutMs: 500 } });
      h.tokenEncrypter.behaviour = behaviour;
      const flow = await h.startFlow();

      const response = await h.callback(flow);

      expect(location(response)).toMatch(/^\/outcome\/failed\?ref=[A-Z2-9]{8}$/);
      expect(h.ledger.callsOf('recordConnection')).toHaveLength(0);
      expect(h.ledger.connections.get(REALM_ID)).toBeUndefined();
      expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
        status: 'FAILED',
        reason: 'token_store_failed',
      });
      expect(h.telemetry.single('KEY_SERVICE_UNAVAILABLE').fields).toMatchObject({ operation: 'encrypt' });
      expect(h.tokenEndpoint.exchanges).toHaveLength(1);
    },
  );

  it('B6: a company check that refuses drops the seal it started: nothing is stored', async () => {
    const h = new FlowHarness({ companyChecks: [{ kind: 'mismatch', status: 403, faultCode: '003100' }] });
    const flow = await h.startFlow();

    await h.callback(flow);

    expect(h.tokenEncrypter.sealed).toHaveLength(1);
    expect(h.ledger.callsOf('recordConnection')).toHaveLength(0);
  });
});
