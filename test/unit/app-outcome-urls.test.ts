/**
 * An app may send its users back to its own pages after the callback (its success and failure
 * URLs). They are configuration, never request parameters (A4), and carry no code or state (E1).
 */
import { fail, succeed } from './fakes/fake-token-endpoint';
import { FlowHarness, REALM_ID } from './fakes/flow-harness';

const SUCCESS = 'https://app.example.com/quickbooks/connected?tab=integrations';
const FAILURE = 'https://app.example.com/quickbooks/problem';

function target(location: string | undefined): URL {
  if (location === undefined) throw new Error('no Location');
  return new URL(location);
}

describe('given the app configured its own success and failure URLs', () => {
  it('E1: sends a connected browser to the success URL with the realmId, keeping its own query', async () => {
    const h = new FlowHarness({
      config: { appSuccessUrl: SUCCESS, appFailureUrl: FAILURE },
      script: [succeed()],
    });
    const flow = await h.startFlow();
    const response = await h.callback(flow);
    expect(response.statusCode).toBe(303);
    const url = target(response.headers['Location']);
    expect(url.origin + url.pathname).toBe('https://app.example.com/quickbooks/connected');
    expect(url.searchParams.get('tab')).toBe('integrations');
    expect(url.searchParams.get('realmId')).toBe(REALM_ID);
    expect(url.search).not.toContain(flow.code);
    expect(url.search).not.toContain(flow.state);
    // Replays land on the same place.
    expect((await h.callback(flow)).headers['Location']).toBe(response.headers['Location']);
  });

  it('sends a failed exchange to the failure URL with outcome=failed and the reference', async () => {
    const h = new FlowHarness({
      config: { appSuccessUrl: SUCCESS, appFailureUrl: FAILURE },
      script: [fail('invalid_grant', { status: 400, oauthError: 'invalid_grant' })],
    });
    const flow = await h.startFlow();
    const url = target((await h.callback(flow)).headers['Location']);
    expect(url.origin + url.pathname).toBe(FAILURE);
    expect(url.searchParams.get('outcome')).toBe('failed');
    expect(url.searchParams.get('ref')).toMatch(/^[A-Z2-9]{8}$/);
  });

  it('B4: sends a cancelled flow to the failure URL with outcome=cancelled', async () => {
    const h = new FlowHarness({ config: { appFailureUrl: FAILURE } });
    const flow = await h.startFlow();
    const response = await h.callback(flow, { query: `error=access_denied&state=${flow.state}` });
    const url = target(response.headers['Location']);
    expect(url.origin + url.pathname).toBe(FAILURE);
    expect(url.searchParams.get('outcome')).toBe('cancelled');
  });

  it('B1: still answers a refused state with its own page, not a redirect to the app', async () => {
    const h = new FlowHarness({ config: { appSuccessUrl: SUCCESS, appFailureUrl: FAILURE } });
    const flow = await h.startFlow();
    const response = await h.callback(flow, { cookies: [] });
    expect(response.statusCode).toBe(400);
    expect(response.headers['Location']).toBeUndefined();
  });
});

describe('given no app URLs', () => {
  it('uses the built-in outcome pages', async () => {
    const h = new FlowHarness({ script: [succeed()] });
    const flow = await h.startFlow();
    expect((await h.callback(flow)).headers['Location']).toBe('/outcome/connected');
  });
});
