/** C8: a write of tokens that exist only in this process is retried within the time left, no longer. */
import { LeaseLostError, StorageUnavailableError } from '../../lambdas/core/errors';
import { WRITE_WORST_MS } from '../../lambdas/core/time-budget';
import { writeWithRetry } from '../../lambdas/core/write-retry';
import { FakeClock } from './fakes/fake-clock';

const isLeaseLost = (error: unknown): error is LeaseLostError => error instanceof LeaseLostError;
const throttled = () => new StorageUnavailableError('recordConnection', 'ThrottlingException');

function script(...answers: Array<'ok' | 'throttled' | 'lost'>) {
  const calls: number[] = [];
  const write = async () => {
    calls.push(calls.length + 1);
    const answer = answers[Math.min(calls.length, answers.length) - 1];
    if (answer === 'throttled') throw throttled();
    if (answer === 'lost') throw new LeaseLostError();
    return 'stored' as const;
  };
  return { calls, write };
}

describe('writeWithRetry', () => {
  it('C8: retries a throttled write with growing pauses and reports how many attempts it took', async () => {
    const clock = new FakeClock();
    const { calls, write } = script('throttled', 'throttled', 'ok');
    const result = await writeWithRetry(write, isLeaseLost, {
      clock: clock.now,
      sleep: clock.sleep,
      deadline: clock.now() + 60_000,
      reserveMs: WRITE_WORST_MS,
    });
    expect(result).toEqual({ kind: 'written', value: 'stored', attempts: 3 });
    expect(calls).toHaveLength(3);
    expect(clock.sleeps).toEqual([100, 300]);
  });

  it('C8: stops at once on an answer another try cannot change', async () => {
    const clock = new FakeClock();
    const { calls, write } = script('lost');
    const result = await writeWithRetry(write, isLeaseLost, {
      clock: clock.now,
      sleep: clock.sleep,
      deadline: clock.now() + 60_000,
      reserveMs: 0,
    });
    expect(result.kind).toBe('final');
    expect(calls).toHaveLength(1);
  });

  it('C4: makes no attempt that would not fit before the deadline minus the reserve', async () => {
    const clock = new FakeClock();
    const { calls, write } = script('throttled');
    const result = await writeWithRetry(write, isLeaseLost, {
      clock: clock.now,
      sleep: clock.sleep,
      // Room for the first attempt only: the second would end past deadline - reserve.
      deadline: clock.now() + WRITE_WORST_MS + WRITE_WORST_MS,
      reserveMs: WRITE_WORST_MS,
    });
    expect(result).toMatchObject({ kind: 'unavailable', attempts: 1 });
    expect(calls).toHaveLength(1);
  });

  it('gives up after the configured attempts with the last storage error', async () => {
    const clock = new FakeClock();
    const { calls, write } = script('throttled');
    const result = await writeWithRetry(write, isLeaseLost, {
      clock: clock.now,
      sleep: clock.sleep,
      deadline: clock.now() + 600_000,
      reserveMs: 0,
      attempts: 4,
    });
    expect(result).toMatchObject({
      kind: 'unavailable',
      attempts: 4,
      error: { awsErrorName: 'ThrottlingException' },
    });
    expect(calls).toHaveLength(4);
  });
});
