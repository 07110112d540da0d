import { inspect } from 'node:util';
import { IntuitCompanyInfoClient } from '../../../lambdas/adapters/intuit-company-info-client';
import { classifyCompanyInfo, intuitFaultCode } from '../../../lambdas/core/company-info';
import type { Script } from '../fakes/scripted-server';
import { closedPort, json, ScriptedServer } from '../fakes/scripted-server';

const REALM_ID = '9130357766125098';
const ACCESS_TOKEN = 'canary-access-token-for-companyinfo-77';
const TID = '1-6a7b8c9d-0e1f2a3b4c5d6e7f8a9b0c1d';

const MISMATCH_FAULT = {
  Fault: {
    Error: [
      { Message: 'message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403', code: '003100' },
    ],
    type: 'SERVICE',
  },
};
const AUTHENTICATION_FAULT = {
  fault: { error: [{ message: 'message=AuthenticationFailed; errorCode=003200', code: '3200' }] },
};
const WRONG_CLUSTER_FAULT = {
  Fault: { Error: [{ Message: 'message=Accessing Wrong Cluster; errorCode=007001', code: '007001' }] },
};

let servers: ScriptedServer[] = [];
async function serve(script: Script): Promise<{ server: ScriptedServer; client: IntuitCompanyInfoClient }> {
  const server = await ScriptedServer.start(script);
  servers.push(server);
  return { server, client: new IntuitCompanyInfoClient({ apiBaseUrl: `${server.url}/` }) };
}

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('IntuitCompanyInfoClient.checkCompany', () => {
  describe('given the token opens the company', () => {
    it('B6: sends one GET with the Bearer token to the CompanyInfo path at minor version 75 and returns the name', async () => {
      const { server, client } = await serve(
        json(200, { CompanyInfo: { CompanyName: 'Canary Bakery LLC', Id: '1' } }, { intuit_tid: TID }),
      );

      const check = await client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000);

      expect(check).toEqual({ kind: 'verified', companyName: 'Canary Bakery LLC', intuitTid: TID });
      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      expect(request?.method).toBe('GET');
      expect(request?.url).toBe(`/v3/company/${REALM_ID}/companyinfo/${REALM_ID}?minorversion=75`);
      expect(request?.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
      expect(request?.headers.accept).toBe('application/json');
    });

    it('strips control characters from the company name and bounds its length', async () => {
      const { client } = await serve(
        json(200, { CompanyInfo: { CompanyName: `Evil\r\nCo${'x'.repeat(400)}` } }),
      );
      const check = await client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000);
      expect(check.kind).toBe('verified');
      if (check.kind !== 'verified') return;
      expect(check.companyName.startsWith('EvilCo')).toBe(true);
      expect(check.companyName).toHaveLength(256);
    });
  });

  describe('given Intuit refuses the token for this company', () => {
    it('B6: 403 with fault 003100 is a realm mismatch, with the fault code and intuit_tid', async () => {
      const { client } = await serve(json(403, MISMATCH_FAULT, { intuit_tid: TID }));
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toEqual({
        kind: 'mismatch',
        status: 403,
        faultCode: '003100',
        intuitTid: TID,
      });
    });

    it('B6: 401 is a configuration problem, not a forgery', async () => {
      const { client } = await serve(json(401, AUTHENTICATION_FAULT));
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toEqual({
        kind: 'misconfigured',
        status: 401,
        faultCode: '3200',
      });
    });

    it('B6: the wrong-cluster fault 007001 is a configuration problem whatever its status', async () => {
      const { client } = await serve(json(403, WRONG_CLUSTER_FAULT));
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toMatchObject({
        kind: 'misconfigured',
        faultCode: '007001',
      });
    });
  });

  describe('given Intuit does not answer usably', () => {
    it.each([500, 503, 429])('B6: %i leaves the company unverified, after one request', async (status) => {
      const { server, client } = await serve(json(status, { fault: { error: [{ code: '003001' }] } }));
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toMatchObject({
        kind: 'unavailable',
        status,
      });
      expect(server.requests).toHaveLength(1);
    });

    it('B6: a 200 without a CompanyInfo object proves nothing', async () => {
      const { client } = await serve(json(200, { QueryResponse: {} }));
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toMatchObject({
        kind: 'unavailable',
        status: 200,
      });
    });

    it('B6: a 403 with another fault is not called a mismatch', async () => {
      const { client } = await serve(json(403, { Fault: { Error: [{ code: '003001' }] } }));
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toMatchObject({
        kind: 'unavailable',
        faultCode: '003001',
      });
    });

    it('C4: a silent server ends at the timeout, classified TIMEOUT', async () => {
      const { server, client } = await serve(() => undefined);
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 200)).resolves.toEqual({
        kind: 'unavailable',
        transportCode: 'TIMEOUT',
      });
      expect(server.requests).toHaveLength(1);
    });

    it('a reset connection is unavailable, not retried', async () => {
      const { server, client } = await serve((_request, _response, raw) => raw.socket.destroy());
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toMatchObject({
        kind: 'unavailable',
        transportCode: 'ECONNRESET',
      });
      expect(server.requests).toHaveLength(1);
    });

    it('a refused connection is unavailable, and sent only once', async () => {
      const port = await closedPort();
      const client = new IntuitCompanyInfoClient({ apiBaseUrl: `http://127.0.0.1:${port}` });
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 1000)).resolves.toEqual({
        kind: 'unavailable',
        transportCode: 'ECONNREFUSED',
      });
    });

    it('refuses a body larger than any CompanyInfo answer instead of reading it all', async () => {
      const { client } = await serve(json(200, { CompanyInfo: { CompanyName: 'x'.repeat(100 * 1024) } }));
      await expect(client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000)).resolves.toMatchObject({
        kind: 'unavailable',
      });
    });

    it('F2: what it returns never holds the access token', async () => {
      const answers = await Promise.all([
        serve(json(403, MISMATCH_FAULT)).then(({ client }) =>
          client.checkCompany(REALM_ID, ACCESS_TOKEN, 2000),
        ),
        serve(() => undefined).then(({ client }) => client.checkCompany(REALM_ID, ACCESS_TOKEN, 200)),
      ]);
      for (const answer of answers) expect(inspect(answer, { depth: 8 })).not.toContain(ACCESS_TOKEN);
    });
  });
});

describe('intuitFaultCode', () => {
  it('reads the code of both spellings Intuit uses, digits only', () => {
    expect(intuitFaultCode(MISMATCH_FAULT)).toBe('003100');
    expect(intuitFaultCode(AUTHENTICATION_FAULT)).toBe('3200');
    expect(intuitFaultCode({ Fault: { Error: [{ code: '<script>' }] } })).toBeUndefined();
    expect(intuitFaultCode('not json')).toBeUndefined();
  });

  it('B6: reads fault codes as numbers, with or without leading zeros', () => {
    expect(classifyCompanyInfo(403, { Fault: { Error: [{ code: '3100' }] } }, undefined)).toMatchObject({
      kind: 'mismatch',
    });
    expect(classifyCompanyInfo(403, { Fault: { Error: [{ code: '7001' }] } }, undefined)).toMatchObject({
      kind: 'misconfigured',
    });
  });

  it('classifies a 403 without any fault body as unverified rather than a mismatch', () => {
    expect(classifyCompanyInfo(403, undefined, undefined)).toEqual({ kind: 'unavailable', status: 403 });
  });
});
