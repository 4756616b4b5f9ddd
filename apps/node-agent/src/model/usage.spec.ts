import { NodeUsageSchema, type ReplicaUsage } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { cpuCores, memoryInUse, stampMs, USAGE_SIGNAL_MAX_REPLICAS, usageSignals } from './usage.js';

const MiB = 1024 ** 2;
const T0 = Date.parse('2026-03-01T12:00:00Z');

describe('cpuCores', () => {
  it.each([
    {
      name: 'one CPU busy over 2 s',
      prev: { at: T0, cpuNs: 5e9 },
      cur: { at: T0 + 2000, cpuNs: 7e9 },
      cpus: 1,
    },
    {
      name: 'a quarter CPU over 2 s',
      prev: { at: T0, cpuNs: 0 },
      cur: { at: T0 + 2000, cpuNs: 5e8 },
      cpus: 0.25,
    },
    {
      name: '3.5 CPUs over 0.5 s',
      prev: { at: T0, cpuNs: 1e9 },
      cur: { at: T0 + 500, cpuNs: 2.75e9 },
      cpus: 3.5,
    },
    { name: 'idle', prev: { at: T0, cpuNs: 9e9 }, cur: { at: T0 + 2000, cpuNs: 9e9 }, cpus: 0 },
    {
      name: 'sub-millisecond times',
      prev: { at: T0 + 0.25, cpuNs: 0 },
      cur: { at: T0 + 1.25, cpuNs: 5e5 },
      cpus: 0.5,
    },
  ])('divides the CPU time used by the time between the readings: $name', ({ prev, cur, cpus }) => {
    expect(cpuCores(prev, cur)).toBeCloseTo(cpus, 9);
  });

  it('gives nothing for a first reading', () => {
    expect(cpuCores(undefined, { at: T0, cpuNs: 123e9 })).toBeUndefined();
  });

  it('gives nothing when the counter went back (the container restarted: its cgroup counts from 0)', () => {
    expect(cpuCores({ at: T0, cpuNs: 80e9 }, { at: T0 + 2000, cpuNs: 1e9 })).toBeUndefined();
  });

  it('gives nothing for readings not apart in time, or out of order', () => {
    expect(cpuCores({ at: T0, cpuNs: 1e9 }, { at: T0, cpuNs: 2e9 })).toBeUndefined();
    expect(cpuCores({ at: T0 + 10, cpuNs: 1e9 }, { at: T0, cpuNs: 2e9 })).toBeUndefined();
    expect(cpuCores({ at: T0, cpuNs: Number.NaN }, { at: T0 + 10, cpuNs: 2e9 })).toBeUndefined();
  });

  it('stays within the contract’s bound', () => {
    expect(cpuCores({ at: T0, cpuNs: 0 }, { at: T0 + 1, cpuNs: 1e15 })).toBe(4096);
  });
});

describe('memoryInUse', () => {
  it('takes the hierarchy’s inactive file cache off the usage on cgroup v1, as docker stats does', () => {
    // Docker 20.10 on cgroup v1 reports both; `total_inactive_file` counts the whole hierarchy.
    const counters = { total_inactive_file: 30 * MiB, inactive_file: 10 * MiB };
    expect(memoryInUse(100 * MiB, counters)).toBe(70 * MiB);
  });

  it('takes `inactive_file` off on cgroup v2 (no `total_` counters there)', () => {
    expect(memoryInUse(100 * MiB, { inactive_file: 40 * MiB })).toBe(60 * MiB);
  });

  it('falls back to `inactive_file` when the v1 figure is not below the usage, and to the usage', () => {
    expect(memoryInUse(100 * MiB, { total_inactive_file: 100 * MiB, inactive_file: 5 * MiB })).toBe(95 * MiB);
    expect(memoryInUse(100 * MiB, { inactive_file: 200 * MiB })).toBe(100 * MiB);
    expect(memoryInUse(100 * MiB, {})).toBe(100 * MiB);
  });

  it('gives a whole, non-negative count of bytes for figures that are not', () => {
    expect(memoryInUse(Number.NaN, { inactive_file: 5 })).toBe(0);
    expect(memoryInUse(-5, {})).toBe(0);
    expect(memoryInUse(1000.6, { inactive_file: Number.POSITIVE_INFINITY })).toBe(1001);
    expect(memoryInUse(Number.POSITIVE_INFINITY, {})).toBe(0);
  });
});

describe('stampMs', () => {
  it('keeps the digits below the millisecond of Docker’s nanosecond stamps', () => {
    expect(stampMs('2026-12-06T04:58:57.880241934Z')).toBeCloseTo(
      Date.parse('2026-12-06T04:58:57.880Z') + 0.241934,
      4,
    );
    expect(stampMs('2026-12-06T04:58:57Z')).toBe(Date.parse('2026-12-06T04:58:57Z'));
    expect(stampMs('2026-12-06T05:58:57.5+01:00')).toBe(Date.parse('2026-12-06T04:58:57.500Z'));
  });

  it.each(['0001-01-01T00:00:00Z', '', 'yesterday', '2026-12-06 04:58:57Z', '2026-13-45T99:99:99Z'])(
    'gives nothing for Docker’s zero time and what is not a time: %p',
    (stamp) => {
      expect(stampMs(stamp)).toBeUndefined();
    },
  );
});

describe('usageSignals', () => {
  const replica = (i: number): ReplicaUsage => ({ replicaId: `r${i}`, appId: 'a1', cpu: 0.5, memory: MiB });

  it('sends nothing without replicas', () => {
    expect(usageSignals('n1', new Date(T0).toISOString(), 2000, [])).toEqual([]);
  });

  it('sends one signal with every replica, its interval a whole number of ms within the contract', () => {
    const [signal, ...more] = usageSignals('n1', new Date(T0).toISOString(), 2003.7, [
      replica(1),
      replica(2),
    ]);
    expect(more).toEqual([]);
    expect(signal).toEqual({
      nodeId: 'n1',
      at: new Date(T0).toISOString(),
      intervalMs: 2004,
      replicas: [replica(1), replica(2)],
    });
    expect(NodeUsageSchema.parse(signal)).toEqual(signal);
    expect(usageSignals('n1', new Date(T0).toISOString(), 0, [replica(1)])[0]?.intervalMs).toBe(1);
  });

  it('splits a node with more replicas than one NATS message holds', () => {
    const many = Array.from({ length: USAGE_SIGNAL_MAX_REPLICAS * 2 + 1 }, (_, i) => replica(i));
    const signals = usageSignals('n1', new Date(T0).toISOString(), 2000, many);
    expect(signals.map((s) => s.replicas.length)).toEqual([
      USAGE_SIGNAL_MAX_REPLICAS,
      USAGE_SIGNAL_MAX_REPLICAS,
      1,
    ]);
    expect(signals.flatMap((s) => s.replicas)).toEqual(many);
    for (const s of signals)
      expect(new TextEncoder().encode(JSON.stringify(s)).length).toBeLessThan(1024 * 1024);
  });
});
