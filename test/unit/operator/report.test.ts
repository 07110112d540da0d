/** How the doctor prints: colour and a progress line only on a terminal, a fix under each failure. */
import { formatCheck, textProgress } from '../../../bin/operator/report';

const FAILED = {
  id: 'secret',
  title: 'Credentials secret',
  status: 'fail' as const,
  detail: 'secret X still holds the placeholder clientId',
  fix: 'npm run set-credentials -- --env dev',
};

describe('formatCheck', () => {
  it('without a terminal: plain text, the fix on its own line', () => {
    expect(formatCheck(FAILED, false)).toBe(
      'FAIL  Credentials secret             secret X still holds the placeholder clientId\n' +
        '      fix: npm run set-credentials -- --env dev\n',
    );
  });

  it('on a terminal: the status in colour', () => {
    expect(formatCheck(FAILED, true).startsWith('\x1b[31mFAIL\x1b[0m  Credentials secret')).toBe(true);
    expect(
      formatCheck({ ...FAILED, status: 'pass', detail: 'ok' }, true).startsWith('\x1b[32mpass\x1b[0m'),
    ).toBe(true);
  });
});

describe('textProgress', () => {
  it('on a terminal: a progress line on stderr, cleared before each result', () => {
    const out: string[] = [];
    const err: string[] = [];
    const progress = textProgress(
      { write: (t) => out.push(t), isTty: false },
      { write: (t) => err.push(t), isTty: true },
    );
    progress.starting?.('Credentials secret', 3, 8);
    progress.finished?.(FAILED);
    expect(err).toEqual(['\r\x1b[Kchecking 3/8: Credentials secret…', '\r\x1b[K']);
    expect(out).toEqual([formatCheck(FAILED, false)]);
  });

  it('not on a terminal: no progress line at all', () => {
    const err: string[] = [];
    const progress = textProgress(
      { write: () => undefined, isTty: false },
      { write: (t) => err.push(t), isTty: false },
    );
    progress.starting?.('Credentials secret', 3, 8);
    progress.finished?.(FAILED);
    expect(err).toEqual([]);
  });
});
