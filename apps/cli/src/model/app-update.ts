import type { EnvVar, UpdateAppInput } from '@gantry/contracts';

import { ArgumentError } from './args.js';

/** The options of `gantry app update`. */
export interface AppUpdateOptions {
  env?: Array<[string, string]>;
  unsetEnv?: string[];
  /** `--command "…"` split into arguments (`splitCommand`), or false for `--no-command`. */
  command?: string[] | false;
  cpu?: number;
  gpu?: number;
  flavor?: string;
  defaultHttpPort?: number;
  /** A port, or false for `--no-grpc-port`. */
  grpcPort?: number | false;
  probePath?: string;
  probePort?: number;
  autoRollback?: boolean;
}

/** Whether the body needs the app's current environment (`envVars` replaces the whole list). */
export const editsEnv = (opts: AppUpdateOptions): boolean =>
  Boolean(opts.env?.length || opts.unsetEnv?.length);

const CHANGES = [
  'env',
  'unsetEnv',
  'command',
  'cpu',
  'gpu',
  'flavor',
  'defaultHttpPort',
  'grpcPort',
  'probePath',
  'probePort',
  'autoRollback',
] as const satisfies ReadonlyArray<keyof AppUpdateOptions>;

/**
 * Refuses, before anything is asked of the API, flags that cannot go together and a command line
 * that changes nothing (ArgumentError). `passthrough` is what followed `--` (the command).
 */
export function checkUpdateOptions(opts: AppUpdateOptions, passthrough: readonly string[]): void {
  if (opts.cpu !== undefined && opts.gpu !== undefined)
    throw new ArgumentError('--cpu and --gpu cannot be used together: an app runs on CPUs or on GPUs');
  if (opts.command !== undefined && passthrough.length > 0)
    throw new ArgumentError(
      `give the command once, with ${opts.command === false ? '--no-command' : '--command'} or after --, not both`,
    );
  const unset = new Set(opts.unsetEnv ?? []);
  const both = [...new Set((opts.env ?? []).map(([name]) => name))].filter((name) => unset.has(name));
  if (both.length > 0)
    throw new ArgumentError(`--env and --unset-env both name ${both.join(', ')}: set it or remove it`);
  if (passthrough.length === 0 && CHANGES.every((k) => opts[k] === undefined))
    throw new ArgumentError(
      'nothing to change: give --env, --unset-env, --command (or -- COMMAND...), --no-command, --cpu, --gpu, --flavor, --http-port, --grpc-port, --no-grpc-port, --probe-path, --probe-port, --auto-rollback or --no-auto-rollback',
    );
}

/**
 * The body of `PUT /v1/app/{id}` for `gantry app update ID [options] [-- command...]`: only what the
 * user gave. `envVars` is the whole list, so with `--env`/`--unset-env` it is the app's `current`
 * list with those applied (kept in its order, new variables last). Throws ArgumentError as
 * `checkUpdateOptions` does, and for removing a variable the app does not have.
 */
export function buildUpdateBody(
  opts: AppUpdateOptions,
  passthrough: readonly string[],
  current: readonly EnvVar[],
): UpdateAppInput {
  checkUpdateOptions(opts, passthrough);
  const body: UpdateAppInput = {};
  if (editsEnv(opts)) body.envVars = editEnv(current, opts.env ?? [], opts.unsetEnv ?? []);
  if (passthrough.length > 0) body.command = [...passthrough];
  else if (opts.command !== undefined) body.command = opts.command === false ? null : opts.command;
  if (opts.flavor !== undefined || opts.cpu !== undefined || opts.gpu !== undefined)
    body.resources = {
      ...(opts.flavor !== undefined ? { flavor: opts.flavor } : {}),
      ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
      ...(opts.gpu !== undefined ? { gpu: opts.gpu } : {}),
    };
  if (opts.defaultHttpPort !== undefined) body.defaultHttpPort = opts.defaultHttpPort;
  if (opts.grpcPort !== undefined) body.grpcPort = opts.grpcPort === false ? null : opts.grpcPort;
  if (opts.probePath !== undefined || opts.probePort !== undefined)
    body.probe = {
      ...(opts.probePath !== undefined ? { path: opts.probePath } : {}),
      ...(opts.probePort !== undefined ? { port: opts.probePort } : {}),
    };
  if (opts.autoRollback !== undefined) body.deploymentStrategy = { autoRollback: opts.autoRollback };
  return body;
}

/** `current` with `unset` removed and `set` applied: replaced in place, new ones appended in order. */
function editEnv(
  current: readonly EnvVar[],
  set: ReadonlyArray<readonly [string, string]>,
  unset: readonly string[],
): EnvVar[] {
  const have = new Set(current.map((v) => v.name));
  const missing = unset.filter((name) => !have.has(name));
  if (missing.length > 0)
    throw new ArgumentError(
      `--unset-env: the app has no environment variable ${missing.join(', ')}${have.size ? ` (it has ${[...have].join(', ')})` : ' (it has none)'}`,
    );
  // A name given twice keeps its last value, as on `app run`.
  const values = new Map(set);
  const drop = new Set(unset);
  const kept = current
    .filter((v) => !drop.has(v.name))
    .map((v) => ({ name: v.name, value: values.get(v.name) ?? v.value }));
  const added = [...values].filter(([name]) => !have.has(name)).map(([name, value]) => ({ name, value }));
  return [...kept, ...added];
}

/** A variable name for `--unset-env` (a `KEY=VALUE` there is a mistake). */
export function parseEnvName(text: string): string {
  if (text === '' || text.includes('=') || /\s/.test(text))
    throw new ArgumentError('expected the name of an environment variable, e.g. GREETING');
  return text;
}

/** Appends to `--unset-env`'s list. */
export function collectEnvName(text: string, previous: string[] = []): string[] {
  return [...previous, parseEnvName(text)];
}

/**
 * `--command "…"` as the arguments a POSIX shell would make of it: split at unquoted blanks;
 * '…' keeps everything as it is, "…" keeps all but \" \\ \$ \` (escaped), \ outside quotes escapes
 * the next character. Nothing is expanded ($VAR stays as written).
 */
export function splitCommand(text: string): string[] {
  const args: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word = (word ?? '') + c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && '"\\$`'.includes(text[i + 1] ?? 'none')) word = (word ?? '') + text[++i];
      else word = (word ?? '') + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new ArgumentError('ends with a lone \\');
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) args.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (quote) throw new ArgumentError(`has an unclosed ${quote}`);
  if (word !== undefined) args.push(word);
  if (args.length === 0)
    throw new ArgumentError("is empty: use --no-command to give the app the image's own command back");
  return args;
}
