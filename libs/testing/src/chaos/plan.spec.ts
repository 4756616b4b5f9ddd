import { describe, expect, it } from '@jest/globals';

import {
  type ChaosPlanOptions,
  type Desired,
  faultEnd,
  parseSeed,
  phases,
  planChaos,
  type WorkloadOp,
} from './plan.js';

const OPTS: ChaosPlanOptions = {
  seed: 42,
  durationMs: 60_000,
  services: ['scheduler', 'api-gateway', 'billing-meter', 'log-collector', 'ingress-router', 'node-agent:n1'],
  disruptive: ['ingress-router', 'node-agent:n1'],
  natsServers: 3,
  cpuApps: 3,
  gpuApps: 1,
  gpuCapacity: 4,
  opEveryMs: 4_000,
  killEveryMs: 60_000,
  pauses: 4,
  postgresRestarts: 1,
  natsKills: 1,
};

/** Replays the ops on a model of desired states, failing on any op invalid where it stands. */
function replay(ops: readonly WorkloadOp[], gpuCapacity: number): Record<string, Desired> {
  const state: Record<string, Desired & { gpu?: number; replicas?: number }> = {};
  const gpus = () =>
    Object.values(state).reduce((n, d) => n + (d.state === 'running' ? (d.gpu ?? 0) * d.replicas : 0), 0);
  const kept: Record<string, number> = {};
  const gpuOf: Record<string, number> = {};
  for (const op of ops) {
    const d = state[op.app];
    switch (op.kind) {
      case 'create':
        expect(d).toBeUndefined();
        gpuOf[op.app] = op.gpu;
        kept[op.app] = op.replicas;
        state[op.app] = { state: 'running', replicas: op.replicas, gpu: op.gpu };
        break;
      case 'scale':
        expect(d?.state).toBe('running');
        kept[op.app] = op.replicas;
        state[op.app] = { state: 'running', replicas: op.replicas, gpu: gpuOf[op.app] ?? 0 };
        break;
      case 'stop':
        expect(d?.state).toBe('running');
        state[op.app] = { state: 'stopped' };
        break;
      case 'start':
        expect(d?.state).toBe('stopped');
        state[op.app] = { state: 'running', replicas: kept[op.app] ?? 1, gpu: gpuOf[op.app] ?? 0 };
        break;
      case 'delete':
        expect(d && d.state !== 'deleted').toBe(true);
        state[op.app] = { state: 'deleted' };
        break;
    }
    expect(gpus()).toBeLessThanOrEqual(gpuCapacity);
  }
  return Object.fromEntries(
    Object.entries(state).map(([k, d]) => [
      k,
      d.state === 'running' ? { state: 'running', replicas: d.replicas } : d,
    ]),
  );
}

describe('planChaos', () => {
  it('is a function of its options and seed', () => {
    expect(planChaos(OPTS)).toEqual(planChaos(OPTS));
    expect(planChaos({ ...OPTS, seed: 43 })).not.toEqual(planChaos(OPTS));
  });

  it.each([1, 2, 3, 42, 1234, 99_999])(
    'seed %i: a valid workload whose final states follow from its ops',
    (seed) => {
      const plan = planChaos({ ...OPTS, seed });
      expect(plan.ops.map((o) => o.at)).toEqual([...plan.ops.map((o) => o.at)].sort((a, b) => a - b));
      expect(replay(plan.ops, OPTS.gpuCapacity)).toEqual(plan.final);
      // The steady app: 2 replicas, never touched after its creation.
      expect(plan.ops.filter((o) => o.app === 'a0').map((o) => o.kind)).toEqual(['create']);
      expect(plan.final['a0']).toEqual({ state: 'running', replicas: 2 });
      expect(plan.ops.every((o) => o.at >= 0 && o.at < OPTS.durationMs)).toBe(true);
    },
  );

  it.each([1, 7, 42, 2024])(
    'seed %i: every service killed, faults inside the run, none overlapping its own kind',
    (seed) => {
      const plan = planChaos({ ...OPTS, seed });
      for (const s of OPTS.services)
        expect(plan.faults.some((f) => f.kind === 'kill' && f.service === s)).toBe(true);
      expect(plan.faults.filter((f) => f.kind === 'postgres')).toHaveLength(1);
      expect(plan.faults.filter((f) => f.kind === 'nats')).toHaveLength(1);
      expect(plan.faults.filter((f) => f.kind === 'pause')).toHaveLength(4);
      for (const f of plan.faults) {
        expect(f.at).toBeGreaterThanOrEqual(0);
        expect(faultEnd(f)).toBeLessThanOrEqual(OPTS.durationMs);
      }
      const groups = new Map<string, Array<[number, number]>>();
      for (const f of plan.faults) {
        const key = f.kind === 'kill' ? `kill ${f.service}` : f.kind === 'pause' ? `pause ${f.app}` : f.kind;
        groups.set(key, [...(groups.get(key) ?? []), [f.at, faultEnd(f)]]);
      }
      for (const [, spans] of groups)
        spans.slice(1).forEach(([from], i) => expect(from).toBeGreaterThanOrEqual(spans[i]?.[1] ?? 0));
    },
  );

  it.each([1, 5, 42])('seed %i: pauses in quiet phases, disruptive faults in loud ones', (seed) => {
    const plan = planChaos({ ...OPTS, seed, durationMs: 180_000 });
    const inside = (spans: Array<[number, number]>, from: number, to: number) =>
      spans.some(([a, b]) => from >= a && to <= b);
    const quiet = phases(180_000, 'quiet');
    const loud = phases(180_000, 'loud');
    expect(quiet).toEqual([
      [3_000, 24_000],
      [63_000, 84_000],
      [123_000, 144_000],
    ]);
    for (const f of plan.faults) {
      const disruptive =
        f.kind === 'postgres' ||
        f.kind === 'nats' ||
        (f.kind === 'kill' && OPTS.disruptive.includes(f.service));
      if (f.kind === 'pause') expect(inside(quiet, f.at, faultEnd(f))).toBe(true);
      else if (disruptive) expect(inside(loud, f.at, faultEnd(f))).toBe(true);
    }
  });

  it('kills each service about once per killEveryMs', () => {
    const plan = planChaos({ ...OPTS, durationMs: 300_000, killEveryMs: 60_000 });
    expect(plan.faults.filter((f) => f.kind === 'kill' && f.service === 'scheduler')).toHaveLength(5);
  });

  it('pauses the steady app first, and no NATS fault without a cluster', () => {
    const plan = planChaos({ ...OPTS, natsServers: 0 });
    expect(plan.faults.filter((f) => f.kind === 'pause' && f.app === 'a0').length).toBeGreaterThanOrEqual(2);
    expect(plan.faults.some((f) => f.kind === 'nats')).toBe(false);
  });

  it('never asks for more GPUs than the fleet has', () => {
    const plan = planChaos({ ...OPTS, gpuApps: 3, gpuCapacity: 2, durationMs: 600_000, opEveryMs: 1_000 });
    expect(plan.ops.filter((o) => o.kind === 'create' && o.gpu > 0)).toHaveLength(2);
    replay(plan.ops, 2);
  });
});

describe('parseSeed', () => {
  it.each([
    ['17', 17],
    ['0x1f', 31],
    ['4294967297', 1],
  ])('%s → %i', (text, seed) => expect(parseSeed(text)).toBe(seed));
  it('makes one from the clock when absent', () => expect(parseSeed(undefined, 2 ** 31 + 5)).toBe(5));
  it.each(['', '-1', '1.5', 'abc', '0x'])('refuses %j', (text) =>
    expect(() => parseSeed(text)).toThrow(/--seed/),
  );
});
