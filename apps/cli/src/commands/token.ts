import type { Token, TokenList } from '@gantry/contracts';
import { type Command, Option } from 'commander';

import { arg, examples, handler, type Io } from '../context.js';
import { parseSelector } from '../model/args.js';
import { renderToken, renderTokens } from '../model/views.js';

interface CreateOptions {
  role: string;
  labelSelector?: string;
  project?: string;
}

const path = (id: string) => `/v1/token/${encodeURIComponent(id)}`;

/** `gantry token create|list|get|renew|delete` (admin tokens). */
export function registerToken(program: Command, io: Io, passthrough: readonly string[]): void {
  const token = examples(
    program
      .command('token')
      .description(
        'API tokens (admin tokens manage them): read (call apps, read the API) or operator (also manage apps), optionally scoped by a label',
      ),
    ['gantry token create ci --role operator', 'gantry token list', 'gantry token renew <token-id>'],
  );

  examples(
    token
      .command('create')
      .argument('<name>', 'token name (letters, digits, _ . -)')
      .description('create a token; its secret is printed once, store it')
      .addOption(
        new Option(
          '-r, --role <role>',
          'read: call apps and read the API; operator: also manage apps; admin: everything',
        )
          .choices(['read', 'operator', 'admin'])
          .makeOptionMandatory(),
      )
      .option(
        '-l, --label-selector <key=value>',
        'reach only apps carrying this label (e.g. team=vision, or gantry/id=<app id> for one app)',
        arg(parseSelector),
      )
      .option('--project <id>', 'create it in another project (admin tokens)')
      .action(
        handler(io, passthrough, async (run, name: string, opts: CreateOptions) => {
          const t = await (
            await run.client()
          ).post<Token>('/v1/token', {
            name,
            role: opts.role,
            ...(opts.labelSelector !== undefined ? { labelSelector: opts.labelSelector } : {}),
            ...(opts.project !== undefined ? { projectId: opts.project } : {}),
          });
          run.emit(t, () => renderToken(t));
        }),
      ),
    [
      'gantry token create ci --role operator',
      'gantry token create vision-reader --role read --label-selector team=vision',
      'gantry token create one-app --role read -l gantry/id=<app-id> -o json | jq -r .status.value',
    ],
  );

  examples(
    token
      .command('list')
      .alias('ls')
      .description('list the tokens (never their secrets)')
      .option('--project <id>', "another project's tokens (admin tokens)")
      .action(
        handler(io, passthrough, async (run, opts: { project?: string }) => {
          const list = await (
            await run.client()
          ).get<TokenList>('/v1/token', { query: { projectId: opts.project } });
          run.emit(list.items, (now) => renderTokens(list.items, now));
        }),
      ),
    ['gantry token list', 'gantry token ls -o json'],
  );

  examples(
    token
      .command('get')
      .argument('<id>', 'token id')
      .description('show one token')
      .action(
        handler(io, passthrough, async (run, id: string) => {
          const t = await (await run.client()).get<Token>(path(id));
          run.emit(t, () => renderToken(t));
        }),
      ),
    ['gantry token get <token-id>'],
  );

  examples(
    token
      .command('renew')
      .argument('<id>', 'token id')
      .description('issue a new secret (same name, role and selector); the old secret stops working at once')
      .action(
        handler(io, passthrough, async (run, id: string) => {
          const t = await (await run.client()).post<Token>(`${path(id)}/renew`);
          run.emit(t, () => renderToken(t));
        }),
      ),
    ['gantry token renew <token-id>'],
  );

  examples(
    token
      .command('delete')
      .alias('rm')
      .argument('<id>', 'token id')
      .description('revoke a token at once')
      .action(
        handler(io, passthrough, async (run, id: string) => {
          await (await run.client()).delete(path(id));
          run.emit({ id, deleted: true }, () => `Token ${id} deleted.\n`);
        }),
      ),
    ['gantry token delete <token-id>'],
  );
}
