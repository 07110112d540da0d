/** The set-credentials prompt on a terminal: the client id is echoed, the secret is not. */
import { PassThrough } from 'node:stream';
import { terminalPrompter } from '../../../bin/operator/terminal-prompter';

function streams(isTTY: boolean) {
  const input = Object.assign(new PassThrough(), { isTTY });
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
  return { input, output, shown: () => shown };
}

it.each([true, false])(
  'terminal=%s: answers line by line, and what is typed for a hidden answer is never shown',
  async (isTTY) => {
    const { input, output, shown } = streams(isTTY);
    const prompt = terminalPrompter(input, output);
    try {
      // Typed before the questions are asked, as a paste or a pipe delivers it.
      input.write('ABclientId\nsuper-secret-value\n');
      expect(await prompt.ask('Client ID: ')).toBe('ABclientId');
      expect(await prompt.askHidden('Client Secret (not shown): ')).toBe('super-secret-value');
    } finally {
      prompt.close();
    }
    expect(shown()).toContain('Client ID: ');
    expect(shown()).toContain('Client Secret (not shown): ');
    expect(shown()).not.toContain('super-secret-value');
  },
);

it('on a terminal, typed after each question: the client id is echoed, the secret is not', async () => {
  const { input, output, shown } = streams(true);
  const prompt = terminalPrompter(input, output);
  try {
    const id = prompt.ask('Client ID: ');
    input.write('ABclientId\n');
    expect(await id).toBe('ABclientId');
    const secret = prompt.askHidden('Client Secret (not shown): ');
    input.write('super-secret-value\n');
    expect(await secret).toBe('super-secret-value');
  } finally {
    prompt.close();
  }
  expect(shown()).toContain('Client ID: ABclientId');
  expect(shown()).not.toContain('super-secret-value');
});
