/**
 * The callback and the flow's tenant (I2, B7): the tenant read from the flow's record reaches the
 * connection, a company bound to another tenant is never taken over, and a failed tenant read
 * stores nothing.
 */
import { StorageUnavailableError } from '../../lambdas/core/errors';
import { sha256Hex } from '../../lambdas/core/flow-identifiers';
import type { HttpResponse } from '../../lambdas/handlers/web/http-responses';
import { FlowHarness, REALM_ID } from './fakes/flow-harness';
import { FAKE_TOKENS, succeed } from './fakes/fake-token-endpoint';

function location(response: HttpResponse): string {
  return response.headers['Location'] ?? '';
}

async function connectAs(h: FlowHarness, tenantId?: string): Promise<HttpResponse> {
  const flow = await h.startFlow(undefined, tenantId);
  h.clock.advance(1000);
  return h.callback(flow);
}

describe('the callback and the flow tenant', () => {
  it('I2: stores the connection with the tenant its flow was started for', async () => {
    const h = new FlowHarness();
    expect(location(await connectAs(h, 'tenant-a'))).toBe('/outcome/connected');
    expect(h.ledger.connections.get(REALM_ID)).toMatchObject({ status: 'ACTIVE', tenantId: 'tenant-a' });
  });

  it("B7: a flow for tenant B coming back with tenant A's company fails on its own page; A's connection is untouched", async () => {
    const h = new FlowHarness({
      script: [
        succeed(),
        { kind: 'tokens', tokens: { ...FAKE_TOKENS, accessToken: 'b-access', refreshToken: 'b-refresh' } },
      ],
    });
    await connectAs(h, 'tenant-a');
    const before = h.ledger.connections.get(REALM_ID);
    const flow = await h.startFlow(undefined, 'tenant-b');
    h.clock.advance(1000);
    const response = await h.callback(flow);
    expect(location(response)).toMatch(/^\/outcome\/other-account\?ref=[A-Z0-9]{8}$/);
    expect(h.ledger.connections.get(REALM_ID)).toEqual(before);
    expect(h.ledger.entries.get(sha256Hex(flow.code))).toMatchObject({
      status: 'FAILED',
      reason: 'realm_bound_to_other_tenant',
    });
    const bound = h.telemetry.events.filter((e) => e.code === 'REALM_BOUND_TO_OTHER_TENANT');
    expect(bound).toHaveLength(1);
    expect(bound[0]?.fields).toMatchObject({ realmId: REALM_ID, tenantId: 'tenant-b' });
    // A replay lands on the same page.
    expect(location(await h.callback(flow))).toMatch(/^\/outcome\/other-account/);
  });

  it('B7: a flow without a tenant cannot take over a bound company either', async () => {
    const h = new FlowHarness();
    await connectAs(h, 'tenant-a');
    expect(location(await connectAs(h))).toMatch(/^\/outcome\/other-account/);
    expect(h.ledger.connections.get(REALM_ID)?.tenantId).toBe('tenant-a');
  });

  it('B7/D5: the same tenant reconnecting replaces the tokens', async () => {
    const h = new FlowHarness();
    await connectAs(h, 'tenant-a');
    expect(location(await connectAs(h, 'tenant-a'))).toBe('/outcome/connected');
    expect(h.ledger.connections.get(REALM_ID)).toMatchObject({ version: 2, tenantId: 'tenant-a' });
  });

  it("stores nothing when the flow's tenant cannot be read (it could otherwise be stored unbound)", async () => {
    const h = new FlowHarness();
    const flow = await h.startFlow(undefined, 'tenant-a');
    h.ledger.failNext(
      'readFlowTenant',
      1,
      () => new StorageUnavailableError('readFlowTenant', 'ThrottlingException'),
    );
    const response = await h.callback(flow);
    expect(location(response)).toMatch(/^\/outcome\/failed/);
    expect(h.ledger.connections.get(REALM_ID)).toBeUndefined();
    expect(h.ledger.callsOf('recordConnection')).toHaveLength(0);
  });
});
