import type { FlavorOutput, Quota } from '@gantry/contracts';
import type { Command } from 'commander';

import { examples, handler, type Io } from '../context.js';
import { renderFields } from '../model/table.js';
import { quotaFields, renderFlavor, renderFlavors } from '../model/views.js';

/** `gantry capabilities flavor list|get`, `gantry capabilities quota`. */
export function registerCapabilities(program: Command, io: Io, passthrough: readonly string[]): void {
  const caps = examples(
    program.command('capabilities').alias('cap').description('what the platform offers: flavors, quotas'),
    ['gantry capabilities flavor list', 'gantry capabilities quota'],
  );
  const flavor = examples(
    caps.command('flavor').description('flavors: the CPU and GPU sizes an app may request'),
    ['gantry capabilities flavor list', 'gantry capabilities flavor get ai1-1-cpu'],
  );

  examples(
    flavor
      .command('list')
      .alias('ls')
      .description('list the flavors with their size per unit, their limits and their price')
      .action(
        handler(io, passthrough, async (run) => {
          const flavors = await (await run.client()).get<FlavorOutput[]>('/v1/capabilities/flavor');
          run.emit(flavors, () => renderFlavors(flavors));
        }),
      ),
    ['gantry capabilities flavor list', 'gantry capabilities flavor ls -o yaml'],
  );

  examples(
    flavor
      .command('get')
      .argument('<id>', 'flavor id, e.g. ai1-1-cpu')
      .description('show one flavor')
      .action(
        handler(io, passthrough, async (run, id: string) => {
          const f = await (
            await run.client()
          ).get<FlavorOutput>(`/v1/capabilities/flavor/${encodeURIComponent(id)}`);
          run.emit(f, () => renderFlavor(f));
        }),
      ),
    ['gantry capabilities flavor get ai1-1-cpu'],
  );

  examples(
    caps
      .command('quota')
      .description("show the project's quota and what is in use")
      .action(
        handler(io, passthrough, async (run) => {
          const q = await (await run.client()).get<Quota>('/v1/capabilities/quota');
          run.emit(q, () =>
            renderFields([['Project', q.projectId], ...quotaFields(q), ['Storage', String(q.storage)]]),
          );
        }),
      ),
    ['gantry capabilities quota'],
  );
}
