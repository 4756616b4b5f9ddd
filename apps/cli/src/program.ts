import { Command, CommanderError, Option } from 'commander';

import { ApiError, CliError } from './client.js';
import { registerAdmin } from './commands/admin.js';
import { registerApp } from './commands/app.js';
import { registerAuth } from './commands/auth.js';
import { registerBilling } from './commands/billing.js';
import { registerCapabilities } from './commands/capabilities.js';
import { registerNode } from './commands/node.js';
import { registerRegistry } from './commands/registry.js';
import { registerToken } from './commands/token.js';
import { arg, examples, type Io } from './context.js';
import { ArgumentError, parseApiUrl } from './model/args.js';
import { formatApiError, hintFor } from './model/errors.js';
import { OUTPUT_FORMATS } from './model/format.js';

/** Exit codes: 0 success, 1 the API (or the connection) failed, 2 the command was used wrongly. */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** Builds the `gantry` program. `passthrough` is what followed `--` (the command of `app run`). */
export function buildProgram(io: Io, passthrough: readonly string[]): Command {
  const program = new Command('gantry');
  program
    .description(
      'Command-line client of Gantry: run Docker images as load-balanced HTTPS apps (mirrors ovhai).',
    )
    .version(io.version, '-V, --version', 'print the version of gantry')
    .helpOption('-h, --help', 'show help for a command')
    .addOption(
      new Option('-o, --output <format>', 'output format: table (human), json or yaml')
        .choices(OUTPUT_FORMATS)
        .default('table'),
    )
    .option('--url <url>', 'Gantry API URL (else GANTRY_URL, else the saved login)', arg(parseApiUrl))
    .option('--token <token>', 'API token (else GANTRY_TOKEN, else the saved login)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
    })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  examples(program, [
    'gantry login --url http://127.0.0.1:8000 --token $GANTRY_ADMIN_TOKEN',
    'gantry app run nginxinc/nginx-unprivileged:alpine -p 8080 --unsecure-http -l team=web',
    'gantry app list -o json',
    'gantry app logs <app-id> -f',
    'gantry <command> --help',
  ]);
  program.hook('preAction', (_root, action) => {
    const takesCommand =
      action.parent?.name() === 'app' && (action.name() === 'run' || action.name() === 'update');
    if (passthrough.length > 0 && !takesCommand)
      throw new ArgumentError(
        `unexpected arguments after --: ${passthrough.join(' ')} (only "gantry app run IMAGE -- COMMAND..." and "gantry app update ID -- COMMAND..." take them)`,
      );
  });

  registerAuth(program, io, passthrough);
  registerApp(program, io, passthrough);
  registerToken(program, io, passthrough);
  registerRegistry(program, io, passthrough);
  registerCapabilities(program, io, passthrough);
  registerNode(program, io, passthrough);
  registerBilling(program, io, passthrough);
  registerAdmin(program, io, passthrough);
  return program;
}

/** Splits the arguments at the first `--`: commander would otherwise drop it at the top level. */
export function splitPassthrough(args: readonly string[]): { args: string[]; passthrough: string[] } {
  const at = args.indexOf('--');
  if (at < 0) return { args: [...args], passthrough: [] };
  return { args: args.slice(0, at), passthrough: args.slice(at + 1) };
}

/**
 * Runs `gantry` with `args` (without `node` and the script) and resolves with the exit code. Errors
 * are printed on stderr: `error: <message>` (and field details) for the API's errors (exit 1), the
 * connection and configuration failures (exit 1), commander's usage errors (exit 2).
 */
export async function runCli(args: readonly string[], io: Io): Promise<number> {
  const split = splitPassthrough(args);
  const program = buildProgram(io, split.passthrough);
  try {
    await program.parseAsync(split.args, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    return reportError(e, io);
  }
}

function reportError(e: unknown, io: Io): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (or the help).
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
    return EXIT.usage;
  }
  if (e instanceof ApiError) {
    io.stderr(formatApiError(e.body, hintFor(e.body.error, e.status)));
    return EXIT.error;
  }
  if (e instanceof CliError) {
    io.stderr(`error: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
    return e.exitCode;
  }
  if (e instanceof ArgumentError) {
    io.stderr(`error: ${e.message}\n(add --help for usage)\n`);
    return EXIT.usage;
  }
  io.stderr(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  return EXIT.error;
}
