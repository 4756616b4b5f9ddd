import type { UsageOutput } from '@gantry/contracts';
import type { Command } from 'commander';

import { arg, examples, handler, type Io } from '../context.js';
import { parseIsoDate } from '../model/args.js';
import { renderUsage } from '../model/views.js';

interface UsageOptions {
  app?: string;
  project?: string;
  from?: string;
  to?: string;
}

/** `gantry billing usage`. */
export function registerBilling(program: Command, io: Io, passthrough: readonly string[]): void {
  const billing = examples(
    program.command('billing').description('usage and charges (per started minute, RUNNING and SCALING)'),
    ['gantry billing usage --from 2026-11-01'],
  );
  examples(
    billing
      .command('usage')
      .description('show usage and charges: one row per run, then the totals')
      .option('--app <id>', 'only this app')
      .option('--project <id>', "another project's usage (admin tokens)")
      .option(
        '--from <iso>',
        'periods from this instant (ISO 8601; a bare date is UTC midnight)',
        arg(parseIsoDate),
      )
      .option('--to <iso>', 'periods before this instant (ISO 8601)', arg(parseIsoDate))
      .action(
        handler(io, passthrough, async (run, opts: UsageOptions) => {
          const usage = await (
            await run.client()
          ).get<UsageOutput>('/v1/billing/usage', {
            query: { appId: opts.app, projectId: opts.project, from: opts.from, to: opts.to },
          });
          run.emit(usage, () => renderUsage(usage));
        }),
      ),
    [
      'gantry billing usage',
      'gantry billing usage --app <app-id> --from 2026-11-01 --to 2026-12-01',
      'gantry billing usage -o json | jq .totals',
    ],
  );
}
