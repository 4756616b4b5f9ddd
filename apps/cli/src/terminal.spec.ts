import { PassThrough, Writable } from 'node:stream';

import { afterEach, describe, expect, it } from '@jest/globals';

import { openTerminal, readSecret, type Terminal } from './terminal.js';

/** A stand-in for a terminal's input: a stream that says it is a TTY and accepts raw mode. */
function ttyInput(): PassThrough & { isTTY: boolean; isRaw: boolean; setRawMode(on: boolean): void } {
  return Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    setRawMode(this: { isRaw: boolean }, on: boolean) {
      this.isRaw = on;
    },
  });
}

/** Everything written to "stderr". */
function capture(): { stream: Writable; text(): string } {
  let text = '';
  return {
    stream: new Writable({
      write: (chunk: Buffer, _enc, done) => {
        text += chunk.toString('utf8');
        done();
      },
    }),
    text: () => text,
  };
}

let terminal: Terminal | undefined;
afterEach(() => terminal?.close());

/** Types `keys` once the question has been written (as a person at the prompt would). */
async function typeAt(input: PassThrough, written: () => string, question: string, keys: string) {
  while (!written().includes(question)) await new Promise((r) => setImmediate(r));
  input.write(keys);
}

describe('readSecret on a terminal', () => {
  it('shows the prompt and never writes what is typed', async () => {
    const input = ttyInput();
    const err = capture();
    terminal = openTerminal({ input, output: err.stream, onInterrupt: () => undefined });
    const answer = readSecret(terminal, input, 'Token: ');
    await typeAt(input, err.text, 'Token: ', 'gantry_s3cr3t\r');
    expect(await answer).toBe('gantry_s3cr3t');
    expect(err.text()).toBe('Token: \n');
  });

  it('echoes an ordinary question, then hides the secret that follows', async () => {
    const input = ttyInput();
    const err = capture();
    terminal = openTerminal({ input, output: err.stream, onInterrupt: () => undefined });
    const user = terminal.ask('Username: ', false);
    await typeAt(input, err.text, 'Username: ', 'bob\r');
    expect(await user).toBe('bob');
    const password = readSecret(terminal, input, 'Password: ');
    await typeAt(input, err.text, 'Password: ', 'hunter2\r');
    expect(await password).toBe('hunter2');
    expect(err.text()).toContain('bob');
    expect(err.text()).not.toContain('hunter2');
    expect(err.text().endsWith('Password: \n')).toBe(true);
  });
});

describe('readSecret without a terminal (a pipe, a file)', () => {
  it('reads the whole input and writes nothing, not even the prompt', async () => {
    const input = new PassThrough();
    const err = capture();
    terminal = openTerminal({ input, output: err.stream, onInterrupt: () => undefined });
    input.end('gantry_from_a_pipe\n');
    expect(await readSecret(terminal, input, 'Token: ')).toBe('gantry_from_a_pipe\n');
    expect(err.text()).toBe('');
  });
});
