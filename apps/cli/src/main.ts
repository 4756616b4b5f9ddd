#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

import { loadEnv } from './config.js';
import type { Io } from './context.js';
import { runCli } from './program.js';

/** The version in apps/cli/package.json. */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The terminal, for prompts: one readline interface for all the questions of a command, so that a
 * line typed or pasted ahead (`bob⏎secret⏎` at "Username:") is kept for the next question instead
 * of being lost with a closed interface. Echo is muted while a secret is read. Prompts go to stderr:
 * stdout stays the command's output.
 */
function openTerminal(): { ask(question: string, secret: boolean): Promise<string>; close(): void } {
  let rl: Interface | undefined;
  let closed = false;
  let muted = false;
  const typedAhead: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  const output = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const open = (): Interface => {
    if (rl) return rl;
    const r = createInterface({ input: process.stdin, output, terminal: true });
    r.on('line', (line) => {
      const w = waiting;
      waiting = undefined;
      if (w) w(line);
      else typedAhead.push(line);
    });
    // Ctrl-D: an empty answer.
    r.on('close', () => {
      closed = true;
      if (waiting) process.stderr.write('\n');
      waiting?.('');
      waiting = undefined;
    });
    // Ctrl-C at a prompt: give up, as a shell would (128 + SIGINT).
    r.on('SIGINT', () => {
      r.close();
      process.stderr.write('\n');
      process.exit(130);
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
        process.stderr.write(`${question}\n`);
        return ahead ?? '';
      }
      if (secret) process.stderr.write(question);
      muted = secret;
      r.setPrompt(secret ? '' : question);
      try {
        return await new Promise<string>((resolve) => {
          waiting = resolve;
          r.prompt();
        });
      } finally {
        muted = false;
        if (secret) process.stderr.write('\n');
        r.pause();
      }
    },
    close: () => rl?.close(),
  };
}

const terminal = openTerminal();

/** Reads a secret: a prompt without echo on a terminal, else all of stdin. */
async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) return terminal.ask(prompt, true);
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// A reader that goes away early (`gantry app logs -f | head`) is the end of the output, not a
// failure: stop quietly, as other command-line tools do on SIGPIPE.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });

const io: Io = {
  env: loadEnv(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  fetch: globalThis.fetch,
  readSecret,
  stdinIsTerminal: () => process.stdin.isTTY === true,
  prompt: (question) => terminal.ask(question, false),
  now: () => new Date(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, { signal });
  },
  onInterrupt: (cb) => {
    process.on('SIGINT', cb);
    process.on('SIGTERM', cb);
    return () => {
      process.off('SIGINT', cb);
      process.off('SIGTERM', cb);
    };
  },
  version: version(),
};

try {
  process.exitCode = await runCli(process.argv.slice(2), io);
} finally {
  terminal.close();
}
