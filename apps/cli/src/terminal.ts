import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';

/** Where the CLI asks its questions: the terminal's input, and stderr (stdout stays the command's output). */
export interface TerminalStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
  /** Ctrl-C at a prompt: give up (the CLI exits 130, as a shell would). */
  onInterrupt(): void;
}

/** Questions on the terminal, one line each. */
export interface Terminal {
  /** Asks `question` and resolves with the line typed; a `secret` answer is never echoed. */
  ask(question: string, secret: boolean): Promise<string>;
  close(): void;
}

/**
 * The terminal, for prompts: one readline interface for all the questions of a command, so that a
 * line typed or pasted ahead (`bob⏎secret⏎` at "Username:") is kept for the next question instead
 * of being lost with a closed interface. While a secret is read, nothing typed reaches the output:
 * readline holds the terminal in raw mode (the terminal itself echoes nothing) and what it would
 * echo is dropped. Only the question is written.
 */
export function openTerminal(streams: TerminalStreams): Terminal {
  let rl: Interface | undefined;
  let closed = false;
  let muted = false;
  const typedAhead: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  const write = (text: string) => streams.output.write(text);
  const output = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      if (!muted) streams.output.write(chunk);
      done();
    },
  });
  const open = (): Interface => {
    if (rl) return rl;
    const r = createInterface({ input: streams.input, output, terminal: true });
    r.on('line', (line) => {
      const w = waiting;
      waiting = undefined;
      if (w) w(line);
      else typedAhead.push(line);
    });
    // Ctrl-D: an empty answer.
    r.on('close', () => {
      closed = true;
      if (waiting) write('\n');
      waiting?.('');
      waiting = undefined;
    });
    r.on('SIGINT', () => {
      r.close();
      write('\n');
      streams.onInterrupt();
    });
    rl = r;
    return r;
  };
  return {
    async ask(question, secret) {
      const r = open();
      const ahead = typedAhead.shift();
      if (ahead !== undefined || closed) {
        // Already echoed (or never to be typed): show only the question.
        write(`${question}\n`);
        return ahead ?? '';
      }
      if (secret) write(question);
      muted = secret;
      r.setPrompt(secret ? '' : question);
      try {
        return await new Promise<string>((resolve) => {
          waiting = resolve;
          r.prompt();
        });
      } finally {
        muted = false;
        if (secret) write('\n');
        r.pause();
      }
    },
    close: () => rl?.close(),
  };
}

/**
 * Reads a secret: on a terminal, `prompt` and a line read without echo; otherwise (a pipe, a file)
 * all of `input`, without prompting or writing anything.
 */
export async function readSecret(
  terminal: Terminal,
  input: NodeJS.ReadableStream & { isTTY?: boolean },
  prompt: string,
): Promise<string> {
  if (input.isTTY) return terminal.ask(prompt, true);
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
