import type { AppDesired } from '@gantry/contracts';
import { afterEach, describe, expect, it } from '@jest/globals';

import { appSpec, desiredState } from './__fixtures__/fleet.js';
import { SchedulerConfigSchema } from './config.js';
import type { Changes, Fleet, StoredApp } from './model/fleet.js';
import type { NodeView } from './model/types.js';
import type { NodeRegistry } from './node-registry.js';
import { Reconciler } from './reconciler.js';
import type { SchedulerStore } from './store/scheduler-store.js';

const desired = (appId: string): AppDesired => desiredState(appId, appSpec());

const node: NodeView = {
  id: 'n1',
  address: '10.0.0.1',
  health: 'READY',
  schedulable: true,
  draining: false,
  simulatedGpus: false,
  capacity: { cpus: 64, memory: 512 * 1024 ** 3, gpus: [] },
};

/**
 * A store that keeps committed apps in memory and refuses any pass that writes one of `poisoned`,
 * as PostgreSQL would refuse a row it cannot take.
 */
function fakeStore(poisoned: Set<string>) {
  const committed = new Map<string, StoredApp>();
  const passes: string[][] = [];
  const store = {
    load: async () => ({ apps: [...committed.values()], replicas: [], generations: new Map(), deleted: [] }),
    persist: async (ch: Changes, fleet: Fleet) => {
      const ids = [...new Set([...ch.desired, ...ch.apps])];
      passes.push(ids);
      const bad = ids.find((id) => poisoned.has(id));
      if (bad) throw new Error(`row of ${bad} refused`);
      for (const id of ids) {
        const app = fleet.app(id);
        if (app) committed.set(id, app);
      }
    },
    flushOutbox: async () => undefined,
  };
  return { store: store as unknown as SchedulerStore, committed, passes };
}

const registry = {
  version: 1,
  load: async () => undefined,
  views: () => new Map([['n1', node]]),
  appliedGeneration: () => 0,
  refreshHealth: async () => [],
} as unknown as NodeRegistry;

const config = SchedulerConfigSchema.parse({ RESYNC_INTERVAL_MS: '600000' });

describe('Reconciler', () => {
  let reconciler: Reconciler | undefined;
  afterEach(async () => reconciler?.onApplicationShutdown());

  it('commits operations that arrive together in one pass', async () => {
    const { store, committed, passes } = fakeStore(new Set());
    const r = (reconciler = new Reconciler(store, registry, config));
    await r.start();
    await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        r.submit((fleet, ch) => ({
          apps: fleet.saveDesired(desired(id), ch) ? [id] : [],
          result: id,
        })),
      ),
    );
    expect([...committed.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(passes).toContainEqual(expect.arrayContaining(['a', 'b', 'c']));
    expect(committed.get('a')?.state).toBe('SCALING');
  });

  it('a pass that fails is retried part by part: only the bad operation fails, and its app is set aside', async () => {
    const { store, committed } = fakeStore(new Set(['bad']));
    const r = (reconciler = new Reconciler(store, registry, config));
    await r.start();
    const outcomes = await Promise.allSettled(
      ['a', 'bad', 'b'].map((id) =>
        r.submit((fleet, ch) => ({
          apps: fleet.saveDesired(desired(id), ch) ? [id] : [],
          result: id,
        })),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/row of bad refused/);
    expect([...committed.keys()].sort()).toEqual(['a', 'b']);
    // Memory was reloaded from what committed: the bad app is not half there.
    expect(r.fleet.app('bad')).toBeUndefined();
    // Later work goes through as usual.
    await r.submit((fleet, ch) => ({
      apps: fleet.saveDesired(desired('c'), ch) ? ['c'] : [],
      result: 0,
    }));
    expect(committed.has('c')).toBe(true);
  });
});
