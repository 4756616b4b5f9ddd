import type { NodeHeartbeat } from '@gantry/contracts';
import { afterEach, describe, expect, it, jest } from '@jest/globals';

import { heartbeat } from './__fixtures__/fleet.js';
import { NodeRegistry } from './node-registry.js';
import type { SchedulerStore } from './store/scheduler-store.js';

/** What the registry asked of its store (the store's SQL is tested on PostgreSQL in node-admin.integration-spec). */
function recordingStore() {
  const calls = {
    saved: [] as string[],
    touched: [] as Array<Record<string, number>>,
    /** Nodes the next touch finds without a row. */
    gone: [] as string[],
  };
  const store = {
    saveHeartbeat: async (hb: NodeHeartbeat) => void calls.saved.push(hb.nodeId),
    touchHeartbeats: async (seen: ReadonlyMap<string, number>) => {
      calls.touched.push(Object.fromEntries(seen));
      return calls.gone.splice(0);
    },
  } as unknown as SchedulerStore;
  return { store, calls };
}

describe('node registry: heartbeats', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('writes a new or changed node at once, an unchanged one every 10 s, and those together', async () => {
    jest.useFakeTimers();
    const { store, calls } = recordingStore();
    const registry = new NodeRegistry(store);
    const t0 = 1_000_000;

    expect(await registry.observe(heartbeat('n1'), t0)).toBe(true);
    expect(await registry.observe(heartbeat('n2'), t0)).toBe(true);
    expect(calls.saved).toEqual(['n1', 'n2']);
    const version = registry.version;

    // Unchanged and recent: nothing to write, nothing changed.
    expect(await registry.observe(heartbeat('n1'), t0 + 5000)).toBe(false);
    expect(registry.version).toBe(version);
    jest.advanceTimersByTime(5000);
    expect(calls.touched).toEqual([]);

    // Past 10 s: both times go out in one write, a second after the first was due.
    await registry.observe(heartbeat('n1'), t0 + 10_001);
    await registry.observe(heartbeat('n2'), t0 + 10_500);
    expect(calls.touched).toEqual([]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(calls.touched).toEqual([{ n1: t0 + 10_001, n2: t0 + 10_500 }]);
    expect(registry.details('n2')?.lastHeartbeatAt).toBe(new Date(t0 + 10_500).toISOString());

    // A change (more GPUs) is written at once and bumps the version.
    expect(await registry.observe(heartbeat('n1', { gpus: 2 }), t0 + 11_000)).toBe(true);
    expect(calls.saved).toEqual(['n1', 'n2', 'n1']);
    expect(registry.version).toBe(version + 1);
  });

  it('keeps taking heartbeats when a batched write fails, and drops what is pending at shutdown', async () => {
    jest.useFakeTimers();
    const { store } = recordingStore();
    let fail = true;
    const touched: string[][] = [];
    (
      store as unknown as { touchHeartbeats: (m: ReadonlyMap<string, number>) => Promise<string[]> }
    ).touchHeartbeats = async (m) => {
      if (fail) throw new Error('database down');
      touched.push([...m.keys()]);
      return [];
    };
    const registry = new NodeRegistry(store);
    await registry.observe(heartbeat('n1'), 0);
    await registry.observe(heartbeat('n1'), 10_001);
    await jest.advanceTimersByTimeAsync(1000);
    fail = false;
    await registry.observe(heartbeat('n1'), 20_002);
    await jest.advanceTimersByTimeAsync(1000);
    expect(touched).toEqual([['n1']]);
    await registry.observe(heartbeat('n1'), 30_003);
    registry.onApplicationShutdown();
    await jest.advanceTimersByTimeAsync(2000);
    expect(touched).toEqual([['n1']]);
  });

  it('writes a node whole again when its row went away, and never a batched time older than a write', async () => {
    jest.useFakeTimers();
    const { store, calls } = recordingStore();
    const registry = new NodeRegistry(store);
    await registry.observe(heartbeat('n1'), 0);
    // Its row was removed while a heartbeat was in flight: the batched touch finds none.
    calls.gone.push('n1');
    await registry.observe(heartbeat('n1'), 10_001);
    await jest.advanceTimersByTimeAsync(1000);
    expect(calls.touched).toEqual([{ n1: 10_001 }]);
    expect(await registry.observe(heartbeat('n1'), 11_002)).toBe(true);
    expect(calls.saved).toEqual(['n1', 'n1']);

    // A time waiting in the batch is dropped when the node is written whole meanwhile.
    await registry.observe(heartbeat('n1'), 21_003);
    expect(await registry.observe(heartbeat('n1', { gpus: 1 }), 21_500)).toBe(true);
    await jest.advanceTimersByTimeAsync(1000);
    expect(calls.touched).toEqual([{ n1: 10_001 }]);
  });

  it('offers a node it loaded from the database for placement only once the node is heard from', async () => {
    const { store } = recordingStore();
    const h = heartbeat('n1', { gpus: 1 });
    (store as unknown as { nodes: () => Promise<unknown[]> }).nodes = async () => [
      {
        id: 'n1',
        address: h.address,
        schedulable: true,
        draining: false,
        // What the node had when last heard from (by a previous leader): one GPU.
        capacity: h.capacity,
        simulatedGpus: true,
        labels: {},
        lastHeartbeatAt: new Date(0),
      },
    ];
    const registry = new NodeRegistry(store);
    await registry.load({ notReadyAfterMs: 3000, lostAfterMs: 10_000 }, 1000);
    // Its replicas keep their grace period (READY: routed to), but nothing new lands on a capacity
    // that may be stale (the host may have come back with fewer GPUs); its record says what it said.
    expect(registry.views().get('n1')).toMatchObject({ health: 'READY', schedulable: false });
    expect(registry.details('n1')?.view).toMatchObject({ health: 'READY', schedulable: true });
    // Its first heartbeat (here without the GPU) is news, whatever it says.
    expect(await registry.observe(heartbeat('n1'), 1500)).toBe(true);
    expect(registry.views().get('n1')).toMatchObject({ schedulable: true, capacity: { gpus: [] } });
    expect(await registry.observe(heartbeat('n1'), 2500)).toBe(false);
  });
});
