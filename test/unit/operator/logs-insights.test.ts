/** The Logs Insights port of `npm run trace --logs`: start a query, poll until it completes. */
import {
  CloudWatchLogsClient,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { awsPorts, createAwsClients } from '../../../bin/operator/aws-ports';

const logs = mockClient(CloudWatchLogsClient);
const slept: number[] = [];
const ports = awsPorts(createAwsClients('eu-west-1'), {
  intervalMs: 1000,
  timeoutMs: 3000,
  sleep: async (ms) => void slept.push(ms),
});

beforeEach(() => {
  logs.reset();
  slept.length = 0;
  logs.on(StartQueryCommand).resolves({ queryId: 'q-1' });
});

it('starts the query over the given groups and range, polls until Complete, and returns rows without @ptr', async () => {
  logs
    .on(GetQueryResultsCommand)
    .resolvesOnce({ status: 'Running', results: [] })
    .resolves({
      status: 'Complete',
      results: [
        [
          { field: '@timestamp', value: '2026-12-01 19:00:00.000' },
          { field: 'code', value: 'TOKEN_EXCHANGE_INVALID_GRANT' },
          { field: '@ptr', value: 'opaque' },
        ],
      ],
    });
  const rows = await ports.insights.query(
    ['group-a', 'group-b'],
    'fields code',
    1_700_000_000_500,
    1_700_003_600_200,
  );
  expect(rows).toEqual([{ '@timestamp': '2026-12-01 19:00:00.000', code: 'TOKEN_EXCHANGE_INVALID_GRANT' }]);
  expect(logs.commandCalls(StartQueryCommand)[0]?.args[0].input).toEqual({
    logGroupNames: ['group-a', 'group-b'],
    queryString: 'fields code',
    startTime: 1_700_000_000,
    endTime: 1_700_003_601,
  });
  expect(slept).toEqual([1000]);
});

it('gives up after its timeout instead of waiting forever', async () => {
  logs.on(GetQueryResultsCommand).resolves({ status: 'Running', results: [] });
  await expect(ports.insights.query(['g'], 'fields code', 0, 1000)).rejects.toThrow(
    'did not finish within 3 s',
  );
});

it('reports a failed query', async () => {
  logs.on(GetQueryResultsCommand).resolves({ status: 'Failed' });
  await expect(ports.insights.query(['g'], 'fields code', 0, 1000)).rejects.toThrow(
    'Logs Insights query Failed',
  );
});
