/**
 * docs/security.md F2: Powertools' event logging is pinned off in code. The event holds the code, the
 * state and the flow cookie, so POWERTOOLS_LOGGER_LOG_EVENT=true in a function's environment must
 * change nothing.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createPowertoolsTelemetry } from '../../lambdas/adapters/powertools-telemetry';
import { createOutcomeHandler } from '../../lambdas/handlers/factories';

const CODE = 'AB11canaryLogEventCode0099';
const COOKIE = '__Host-qbo_flow_0123456789abcdef=canary-state-value-in-cookie.1';

describe('given POWERTOOLS_LOGGER_LOG_EVENT=true', () => {
  const saved = process.env['POWERTOOLS_LOGGER_LOG_EVENT'];
  afterEach(() => {
    if (saved === undefined) delete process.env['POWERTOOLS_LOGGER_LOG_EVENT'];
    else process.env['POWERTOOLS_LOGGER_LOG_EVENT'] = saved;
  });

  it('F2: the handlers still never log the invocation event', async () => {
    process.env['POWERTOOLS_LOGGER_LOG_EVENT'] = 'true';
    const writes: string[] = [];
    const capture = (chunk: unknown): boolean => (writes.push(String(chunk)), true);
    const spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation(capture),
      jest.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
    try {
      // Created after the variable is set, as in a Lambda whose environment carries it.
      const telemetry = createPowertoolsTelemetry('test');
      expect(telemetry.logger.getLogEvent()).toBe(true);
      const handler = createOutcomeHandler(telemetry, { appName: 'Test app', https: true });
      const event = {
        version: '2.0',
        routeKey: 'GET /outcome/{kind}',
        rawPath: '/outcome/nope',
        rawQueryString: `code=${CODE}`,
        cookies: [COOKIE],
        headers: {},
        pathParameters: { kind: 'nope' },
        requestContext: { http: { method: 'GET', path: '/outcome/nope' } },
        isBase64Encoded: false,
      } as unknown as APIGatewayProxyEventV2;
      const context = { functionName: 'outcome', awsRequestId: 'r' } as unknown as Context;

      const result = await handler(event, context);

      expect(result.statusCode).toBe(404);
      const output = writes.join('');
      expect(output).not.toContain('Lambda invocation event');
      expect(output).not.toContain(CODE);
      expect(output).not.toContain('canary-state-value-in-cookie');
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
