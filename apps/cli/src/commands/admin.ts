import type { DeadLetterEntry, DeadLetterPage, ReplayDeadLettersResult } from '@gantry/contracts';
import type { Command } from 'commander';

import { arg, examples, handler, type Io, UsageError } from '../context.js';
import { ArgumentError } from '../model/args.js';
import { renderTable } from '../model/table.js';

/** A dead letter's id as the command line gives it: its sequence in the dead-letter stream. */
export function parseDeadLetterId(value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1)
    throw new ArgumentError(
      'must be a dead letter id (a whole number from 1, as "gantry admin dlq list" shows)',
    );
  return Number(value);
}

/** `--id` may be given several times: each one is checked and added. */
const collectIds = (value: string, previous: number[] | undefined): number[] => [
  ...(previous ?? []),
  arg(parseDeadLetterId)(value),
];

/** One line of a text, at most `max` characters. */
const oneLine = (text: string, max: number) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

export function renderDeadLetters(page: DeadLetterPage): string {
  if (page.items.length === 0) return 'No dead letters.\n';
  const table = renderTable<DeadLetterEntry>(
    [
      { header: 'ID', value: (l) => String(l.id), right: true },
      { header: 'AT', value: (l) => l.at },
      { header: 'SUBJECT', value: (l) => l.subject + (l.part ? ' (part)' : '') },
      { header: 'CONSUMER', value: (l) => l.consumer },
      { header: 'DELIVERIES', value: (l) => String(l.deliveries), right: true },
      { header: 'REASON', value: (l) => oneLine(l.reason, 80) },
    ],
    page.items,
  );
  const more = page.next !== undefined ? `More: gantry admin dlq list --after ${page.next}\n` : '';
  return `${table}${page.items.length} shown of ${page.total} in the dead-letter stream.\n${more}`;
}

export function renderReplay(result: ReplayDeadLettersResult): string {
  const lines = [
    `Replayed ${result.replayed.length} dead letter(s)${result.replayed.length ? `: ${result.replayed.join(', ')}` : ''}.`,
  ];
  for (const f of result.failed) lines.push(`Not replayed ${f.id}: ${f.reason}`);
  return `${lines.join('\n')}\n`;
}

/** `gantry admin dlq list|replay` (admin tokens). */
export function registerAdmin(program: Command, io: Io, passthrough: readonly string[]): void {
  const admin = examples(program.command('admin').description('platform administration (admin tokens)'), [
    'gantry admin dlq list',
    'gantry admin dlq replay --all',
  ]);
  const dlq = examples(
    admin
      .command('dlq')
      .description('the dead-letter stream: messages a service could never handle, and their replay'),
    ['gantry admin dlq list --subject app.status.v2', 'gantry admin dlq replay --id 12 --id 13'],
  );

  examples(
    dlq
      .command('list')
      .alias('ls')
      .description('list dead letters, oldest first: subject, consumer, deliveries and why')
      .option('--after <id>', 'start after this id (the "More:" line gives it)', arg(parseDeadLetterId))
      .option('--limit <n>', 'at most this many (1-500)', arg(parseLimit), 50)
      .option('--subject <subject>', 'only letters of this subject (e.g. app.status.v2)')
      .action(
        handler(io, passthrough, async (run) => {
          const o = run.command.opts<{ after?: number; limit: number; subject?: string }>();
          const page = await (
            await run.client()
          ).get<DeadLetterPage>('/v1/admin/dlq', {
            query: { after: o.after, limit: o.limit, subject: o.subject },
          });
          run.emit(page, () => renderDeadLetters(page));
        }),
      ),
    ['gantry admin dlq list', 'gantry admin dlq list --after 100 -o json'],
  );

  examples(
    dlq
      .command('replay')
      .description(
        'republish dead letters to their original subjects (every consumer of it gets them again) and remove them',
      )
      .option('--id <id>', 'a dead letter to replay (repeatable)', collectIds)
      .option('--subject <subject>', 'every dead letter of this subject')
      .option('--all', 'every dead letter')
      .action(
        handler(io, passthrough, async (run) => {
          const o = run.command.opts<{ id?: number[]; subject?: string; all?: boolean }>();
          const chosen = [o.id !== undefined, o.subject !== undefined, o.all === true].filter(Boolean).length;
          if (chosen !== 1)
            throw new UsageError('give --id (one or more), --subject or --all: exactly one of them');
          const body = o.id
            ? { ids: o.id }
            : o.subject !== undefined
              ? { subject: o.subject }
              : { all: true };
          const result = await (
            await run.client()
          ).post<ReplayDeadLettersResult>('/v1/admin/dlq/replay', body);
          run.emit(result, () => renderReplay(result));
        }),
      ),
    [
      'gantry admin dlq replay --id 12',
      'gantry admin dlq replay --subject app.status.v2',
      'gantry admin dlq replay --all',
    ],
  );
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d{1,3}$/.test(value) || n < 1 || n > 500)
    throw new ArgumentError('must be a whole number from 1 to 500');
  return n;
}
