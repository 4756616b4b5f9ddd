import type { Registry, RegistryList } from '@gantry/contracts';
import { type Command, Option } from 'commander';

import { examples, handler, type Io, UsageError } from '../context.js';
import { secretFromStdin } from '../model/args.js';
import { renderRegistries, renderRegistry } from '../model/views.js';

interface CredentialOptions {
  username?: string;
  passwordStdin?: boolean;
  /** The hidden `--password`, only there to be refused with an explanation. */
  password?: string;
}

interface AddOptions extends CredentialOptions {
  project?: string;
}

interface UpdateOptions extends CredentialOptions {
  registryUrl?: string;
}

const path = (id: string) => `/v1/registry/${encodeURIComponent(id)}`;

/** `-p/--password VALUE`: hidden, refused, so that `--password` gets an explanation, not "unknown option". */
const passwordFlag = () => new Option('-p, --password <password>').hideHelp();

function refusePasswordFlag(opts: CredentialOptions): void {
  if (opts.password !== undefined)
    throw new UsageError(
      'a password given as --password stays in the shell history and is visible to other processes',
      'pipe it with --password-stdin (printf %s "$PASSWORD" | gantry registry …), or leave it out to be prompted',
    );
}

/** The user name: `--username`, else asked on the terminal. */
async function askUsername(io: Io): Promise<string> {
  if (!io.stdinIsTerminal())
    throw new UsageError('no username given: pass --username USER (stdin is not a terminal to ask on)');
  const username = (await io.prompt('Username: ')).trim();
  if (!username) throw new UsageError('no username given');
  return username;
}

/** The password: all of stdin with `--password-stdin`, else asked on the terminal without echo. */
async function readPassword(io: Io, fromStdin: boolean): Promise<string> {
  if (!fromStdin && !io.stdinIsTerminal())
    throw new UsageError(
      'no password given: pipe it with --password-stdin (stdin is not a terminal to ask on)',
    );
  const password = secretFromStdin(await io.readSecret('Password: '));
  if (!password) throw new UsageError(fromStdin ? 'no password given: stdin was empty' : 'no password given');
  return password;
}

/** `gantry registry list|add|get|update|delete` (reference `ovhai registry …`). */
export function registerRegistry(program: Command, io: Io, passthrough: readonly string[]): void {
  const registry = examples(
    program
      .command('registry')
      .description(
        "private registries' credentials: the project's apps pull images from these registries with them " +
          '(operator and admin tokens change them; read tokens may list them; passwords are never shown)',
      ),
    [
      'gantry registry add registry.example.com --username ci',
      'gantry registry list',
      'gantry registry update <registry-id> --password-stdin < new-password.txt',
    ],
  );

  examples(
    registry
      .command('list')
      .alias('ls')
      .description('list the registered registries (never their passwords)')
      .option('--project <id>', "another project's registries (admin tokens)")
      .action(
        handler(io, passthrough, async (run, opts: { project?: string }) => {
          const list = await (
            await run.client()
          ).get<RegistryList>('/v1/registry', { query: { projectId: opts.project } });
          run.emit(list.items, (now) => renderRegistries(list.items, now));
        }),
      ),
    ['gantry registry list', 'gantry registry ls -o json'],
  );

  examples(
    registry
      .command('add')
      .argument(
        '<url>',
        'registry address: host[:port][/path], e.g. registry.example.com, 127.0.0.1:5000, harbor.example.com/team',
      )
      .description(
        "register a private registry's credentials; the user name and password are asked on a terminal " +
          'when not given (the password without echo)',
      )
      .option('-u, --username <user>', 'registry user name (asked on a terminal when absent)')
      .option(
        '--password-stdin',
        'read the password from stdin (else it is asked, without echo, on a terminal)',
      )
      .addOption(passwordFlag())
      .option('--project <id>', 'add it to another project (admin tokens)')
      .action(
        handler(io, passthrough, async (run, url: string, opts: AddOptions) => {
          refusePasswordFlag(opts);
          const client = await run.client();
          const username = opts.username ?? (await askUsername(io));
          const password = await readPassword(io, opts.passwordStdin === true);
          const r = await client.post<Registry>('/v1/registry', {
            url,
            username,
            password,
            ...(opts.project !== undefined ? { projectId: opts.project } : {}),
          });
          run.emit(r, (now) => renderRegistry(r, now));
        }),
      ),
    [
      'gantry registry add registry.example.com          # asks for the user name and password',
      'printf %s "$REGISTRY_PASSWORD" | gantry registry add ghcr.io/my-org -u ci --password-stdin',
      'gantry registry add docker.io/myuser -u myuser --password-stdin < ~/.docker-hub-token',
    ],
  );

  examples(
    registry
      .command('get')
      .argument('<id>', 'registry id')
      .description('show one registry (never its password)')
      .action(
        handler(io, passthrough, async (run, id: string) => {
          const r = await (await run.client()).get<Registry>(path(id));
          run.emit(r, (now) => renderRegistry(r, now));
        }),
      ),
    ['gantry registry get <registry-id>', 'gantry registry get <registry-id> -o json'],
  );

  examples(
    registry
      .command('update')
      .argument('<id>', 'registry id')
      .description(
        "change a registry's address, user name and/or password (at least one). The new address is " +
          '--registry-url: --url is the Gantry API URL, as on every command',
      )
      .option('--registry-url <url>', 'new registry address (host[:port][/path])')
      .option('-u, --username <user>', 'new user name')
      .option(
        '--password-stdin',
        'new password, read from stdin (asked without echo when stdin is a terminal)',
      )
      .addOption(passwordFlag())
      .action(
        handler(io, passthrough, async (run, id: string, opts: UpdateOptions) => {
          refusePasswordFlag(opts);
          if (opts.registryUrl === undefined && opts.username === undefined && opts.passwordStdin !== true)
            throw new UsageError(
              'nothing to update: give --registry-url, --username and/or --password-stdin',
            );
          const client = await run.client();
          const password = opts.passwordStdin === true ? await readPassword(io, true) : undefined;
          const r = await client.put<Registry>(path(id), {
            ...(opts.registryUrl !== undefined ? { url: opts.registryUrl } : {}),
            ...(opts.username !== undefined ? { username: opts.username } : {}),
            ...(password !== undefined ? { password } : {}),
          });
          run.emit(r, (now) => renderRegistry(r, now));
        }),
      ),
    [
      'gantry registry update <registry-id> --password-stdin            # asks for it on a terminal',
      'printf %s "$NEW_TOKEN" | gantry registry update <registry-id> --password-stdin',
      'gantry registry update <registry-id> --username ci-bot --registry-url ghcr.io/other-org',
    ],
  );

  examples(
    registry
      .command('delete')
      .alias('rm')
      .argument('<id>', 'registry id')
      .description('forget a registry and its credentials')
      .action(
        handler(io, passthrough, async (run, id: string) => {
          await (await run.client()).delete(path(id));
          run.emit({ id, deleted: true }, () => `Registry ${id} deleted.\n`);
        }),
      ),
    ['gantry registry delete <registry-id>'],
  );
}
