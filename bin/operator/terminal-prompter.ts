/** The operator tools' prompts on a terminal (or a pipe), with answers that can be hidden. */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Prompter } from './set-credentials';

/**
 * Questions go to `output`, answers come from `input`, one line each. While a hidden answer is
 * typed, the terminal's echo is routed nowhere, so a secret never reaches the screen or a
 * scrollback buffer.
 */
export function terminalPrompter(
  input: NodeJS.ReadableStream & { isTTY?: boolean },
  output: NodeJS.WritableStream,
): Prompter & { close(): void } {
  // Echo only the answer to a visible question being typed: a paste of several lines would
  // otherwise show the secret line while the client id's question is still open.
  let echoing = false;
  const echo = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      if (echoing) output.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input, output: echo, terminal: input.isTTY === true });
  // Synchronous, in the middle of a pasted chunk: what follows the line's end is not echoed.
  rl.on('line', () => (echoing = false));
  const lines = rl[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done === true) throw new Error('input ended before an answer was given');
    return line.value;
  };
  return {
    async ask(question) {
      output.write(question);
      echoing = true;
      return next();
    },
    async askHidden(question) {
      output.write(question);
      echoing = false;
      const answer = await next();
      output.write('\n');
      return answer;
    },
    close: () => rl.close(),
  };
}
