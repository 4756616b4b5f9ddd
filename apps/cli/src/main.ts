#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

import { loadEnv } from './config.js';
import type { Io } from './context.js';
import { runCli } from './program.js';
import { openTerminal, readSecret } from './terminal.js';

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

const terminal = openTerminal({
  input: process.stdin,
  output: process.stderr,
  onInterrupt: () => process.exit(130),
});

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
  readSecret: (prompt) => readSecret(terminal, process.stdin, prompt),
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
