import type { Me } from '@gantry/contracts';
import type { Command } from 'commander';

import { ApiError, GantryClient } from '../client.js';
import { saveConfig } from '../config.js';
import { CliError, examples, handler, type Io, UsageError } from '../context.js';
import { tokenProblem } from '../model/args.js';
import { renderMe } from '../model/views.js';

/** `gantry login`, `gantry logout`, `gantry me`. */
export function registerAuth(program: Command, io: Io, passthrough: readonly string[]): void {
  examples(
    program
      .command('login')
      .description(
        'check a token against the API (GET /v1/me) and save {url, token} for the next commands ' +
          '(file $GANTRY_CONFIG or ~/.config/gantry/config.json, mode 0600). The token is --token, ' +
          'else read from stdin (prompted on a terminal).',
      )
      .action(
        handler(io, passthrough, async (run) => {
          const target = await run.target();
          const g = run.globals;
          let token = g.token;
          if (token === undefined) token = (await io.readSecret('Token: ')).trim();
          if (!token) throw new UsageError('no token given: pass --token TOKEN or pipe the token on stdin');
          const problem = tokenProblem(token);
          if (problem) throw new UsageError(`${problem}: check what you pasted`);
          const client = new GantryClient(target.url, token, io.fetch);
          let me: Me;
          try {
            me = await client.get<Me>('/v1/me');
          } catch (e) {
            if (e instanceof ApiError && e.status === 401)
              throw new CliError(
                `login failed: ${e.message}`,
                1,
                'check the token (gantry token create prints it once)',
              );
            throw e;
          }
          await saveConfig(io.env.configPath, { url: target.url, token });
          run.emit(
            { url: target.url, configPath: io.env.configPath, me },
            () =>
              `Logged in to ${target.url} as ${me.name} (role ${me.role}, project ${me.project.name}).\n` +
              `Saved to ${io.env.configPath}.\n`,
          );
        }),
      ),
    [
      'gantry login --url http://127.0.0.1:8000 --token gantry_xxxxxxxx',
      'echo "$TOKEN" | gantry login --url https://api.gantry.example.com',
      'gantry login            # prompts for the token, keeps the saved URL',
    ],
  );

  examples(
    program
      .command('logout')
      .description('forget the saved token (the URL is kept)')
      .action(
        handler(io, passthrough, async (run) => {
          const { saved } = await run.target();
          await saveConfig(io.env.configPath, saved.url !== undefined ? { url: saved.url } : {});
          run.emit(
            { loggedOut: true, configPath: io.env.configPath },
            () => `Logged out (${io.env.configPath}).\n`,
          );
        }),
      ),
    ['gantry logout'],
  );

  examples(
    program
      .command('me')
      .description('show who the token is: name, role, label selector, project and its quotas')
      .action(
        handler(io, passthrough, async (run) => {
          const me = await (await run.client()).get<Me>('/v1/me');
          run.emit(me, () => renderMe(me));
        }),
      ),
    ['gantry me', 'gantry me -o json'],
  );
}
