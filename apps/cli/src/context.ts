import { type Command, InvalidArgumentError } from 'commander';

import { ApiError, CliError, GantryClient, UsageError } from './client.js';
import { type CliEnv, DEFAULT_API_URL, readSavedConfig, type SavedConfig } from './config.js';
import { ArgumentError, parseApiUrl, tokenProblem } from './model/args.js';
import { type OutputFormat, serialize } from './model/format.js';

/** Everything the CLI touches outside itself, so that tests can run it in memory. */
export interface Io {
  env: CliEnv;
  stdout(text: string): void;
  stderr(text: string): void;
  fetch: typeof fetch;
  /** Reads a secret: prompts (without echo) on a terminal, else reads stdin to its end. */
  readSecret(prompt: string): Promise<string>;
  /** Whether stdin is a terminal, i.e. whether someone can answer a prompt. */
  stdinIsTerminal(): boolean;
  /** Asks a question on the terminal and reads one line, echoed (a user name, not a secret). */
  prompt(question: string): Promise<string>;
  now(): Date;
  /** Resolves after `ms`, or rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Calls `cb` on Ctrl-C (SIGINT) or SIGTERM until the returned function is called. */
  onInterrupt(cb: () => void): () => void;
  version: string;
}

/** Options every command accepts (declared once, on the program). */
export interface GlobalOptions {
  output: OutputFormat;
  url?: string;
  token?: string;
}

/** Where to send requests, and with which token. */
export interface Target {
  url: string;
  token?: string;
  saved: SavedConfig;
}

/** Wraps a model parser for commander: an ArgumentError becomes a usage error (exit 2). */
export function arg<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (e) {
      if (e instanceof ArgumentError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}

/** Same as `arg`, for repeatable options (`-e A=1 -e B=2`). */
export function collect<T>(
  parse: (value: string, previous: T[] | undefined) => T[],
): (value: string, previous: T[]) => T[] {
  return (value, previous) => {
    try {
      return parse(value, previous);
    } catch (e) {
      if (e instanceof ArgumentError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}

/** One invocation of one command: its options, output and API client. */
export class Run {
  constructor(
    readonly io: Io,
    readonly command: Command,
    /** What followed `--` on the command line. */
    readonly passthrough: readonly string[],
  ) {}

  get globals(): GlobalOptions {
    return this.command.optsWithGlobals<GlobalOptions>();
  }

  get output(): OutputFormat {
    return this.globals.output ?? 'table';
  }

  /**
   * The API URL and token: `--url`/`--token`, else `GANTRY_URL`/`GANTRY_TOKEN`, else the saved
   * login. A saved token is only sent to the URL it was saved for.
   */
  async target(): Promise<Target> {
    const g = this.globals;
    let saved: SavedConfig;
    try {
      saved = await readSavedConfig(this.io.env.configPath);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    const url =
      g.url ??
      validUrl(this.io.env.url, 'GANTRY_URL') ??
      validUrl(saved.url, this.io.env.configPath) ??
      DEFAULT_API_URL;
    const savedToken =
      saved.token !== undefined && (saved.url === undefined || sameUrl(saved.url, url))
        ? saved.token
        : undefined;
    const token = g.token ?? this.io.env.token ?? savedToken;
    return { url, saved, ...(token !== undefined ? { token } : {}) };
  }

  /** A client for the resolved target; throws "not logged in" when there is no token. */
  async client(): Promise<GantryClient> {
    const t = await this.target();
    if (!t.token)
      throw new CliError(
        `not logged in to ${t.url}`,
        1,
        'run `gantry login --url URL --token TOKEN` (or pipe the token on stdin), or set GANTRY_TOKEN',
      );
    const problem = tokenProblem(t.token);
    if (problem)
      throw new UsageError(`${problem}: check the token given (--token, GANTRY_TOKEN or gantry login)`);
    return new GantryClient(t.url, t.token, this.io.fetch);
  }

  /** Prints `value` as JSON or YAML with `-o`, else the human rendering. */
  emit(value: unknown, human: (now: Date) => string): void {
    const out = this.output;
    this.io.stdout(out === 'table' ? human(this.io.now()) : serialize(value, out));
  }

  print(text: string): void {
    this.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
  }
}

function validUrl(value: string | undefined, source: string): string | undefined {
  if (value === undefined) return undefined;
  try {
    return parseApiUrl(value);
  } catch (e) {
    throw new UsageError(`${source}: the API URL ${(e as Error).message}`);
  }
}

function sameUrl(a: string, b: string): boolean {
  try {
    return parseApiUrl(a) === parseApiUrl(b);
  } catch {
    return false;
  }
}

/** The action handler of a command: the Run first, then commander's arguments and options. */
export function handler<A extends unknown[]>(
  io: Io,
  passthrough: readonly string[],
  fn: (run: Run, ...args: A) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    await fn(new Run(io, command, passthrough), ...(args.slice(0, -1) as A));
  };
}

/** Adds an "Examples:" section to a command's help. */
export function examples(cmd: Command, lines: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

export { ApiError, CliError, UsageError };
