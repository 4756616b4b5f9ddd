import type { AutomaticScaling, ScalingEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { AppScaler, PENDING_TIMEOUT_MS } from './app-scaler.js';
import type { Reading } from './readings.js';

const S = 1000;
const T0 = Date.parse('2026-05-01T10:00:00Z');

function entry(
  replicas: number,
  automatic: Partial<AutomaticScaling> = {},
  extra: Partial<ScalingEntry> = {},
): ScalingEntry {
  return {
    appId: 'app-1',
    projectId: 'p1',
    version: 1,
    updatedAt: new Date(T0).toISOString(),
    desiredVersion: 3,
    state: 'RUNNING',
    automatic: {
      replicasMin: 1,
      replicasMax: 6,
      resourceType: 'CPU',
      averageUsageTarget: 50,
      scaleUpStabilizationWindowSeconds: 0,
      scaleDownStabilizationWindowSeconds: 60,
      ...automatic,
    },
    replicas,
    replicasSince: new Date(T0 - 3600 * S).toISOString(),
    perReplica: { cpu: 1, memory: 1 << 30, gpu: 0 },
    ready: Array.from({ length: replicas }, (_, i) => ({ replicaId: `r${i}`, nodeId: 'n1' })),
    ...extra,
  };
}

const cpu = (percent: number, target = 50): Reading => ({
  kind: 'value',
  metric: { kind: 'perReplica', value: percent, target },
  describe: `cpu ${percent} % of target ${target} % (2 ready, over 10 s)`,
});
const total = (value: number, target: number): Reading => ({
  kind: 'value',
  metric: { kind: 'total', value, target },
  describe: `custom metric ${value} at http://q/metrics for a target of ${target} per replica`,
});
const problem = (text: string): Reading => ({ kind: 'problem', problem: text });
const waiting: Reading = { kind: 'waiting', why: 'no ready replica' };

/**
 * Ticks every second from `from` to `to` (seconds after T0) with the reading of that second. With
 * `apply`, a scheduler that applies each decision at once: the entry it makes for a count.
 */
function run(
  s: AppScaler,
  from: number,
  to: number,
  reading: (t: number) => Reading,
  apply?: (replicas: number) => ScalingEntry,
) {
  const out: Array<{ t: number; replicas: number; message: string; problem?: string }> = [];
  for (let t = from; t <= to; t++) {
    const p = s.tick(reading(t), T0 + t * S);
    if (!p) continue;
    out.push({ t, replicas: p.replicas, message: p.message, ...(p.problem ? { problem: p.problem } : {}) });
    if (apply) s.update(apply(p.replicas), T0 + t * S);
  }
  return out;
}

describe('AppScaler: the metric', () => {
  it('scales up at once with no up window, with the inputs in the message', () => {
    const s = new AppScaler(entry(2), T0);
    expect(s.tick(cpu(183), T0)).toEqual({
      appId: 'app-1',
      desiredVersion: 3,
      from: 2,
      replicas: 6, // ceil(2 × 3.66) = 8, within replicasMax 6
      message: 'cpu 183 % of target 50 % (2 ready, over 10 s): 2 → 6 replicas',
      entryReplicas: 2,
      at: T0,
    });
  });

  it('changes nothing within the 10 % tolerance', () => {
    const s = new AppScaler(entry(2), T0);
    expect(run(s, 0, 200, (t) => cpu(t % 2 ? 54 : 46))).toEqual([]);
  });

  it('scales down only after the down window, to the highest recommendation in it', () => {
    const s = new AppScaler(entry(4), T0);
    // 4 replicas at 20 %: recommends ceil(4 × 0.4) = 2. The 4 seen at start holds for 60 s. Then the
    // same load on 2 replicas is 40 %: ceil(2 × 0.8) = 2, where it stays.
    let running = 4;
    expect(
      run(
        s,
        0,
        300,
        () => cpu(80 / running),
        (n) => entry((running = n)),
      ),
    ).toEqual([
      {
        t: 60,
        replicas: 2,
        message: 'cpu 20 % of target 50 % (2 ready, over 10 s): 4 → 2 replicas',
      },
    ]);
  });

  it('waits for the up window before a rise, and says what held it back', () => {
    const up = { scaleUpStabilizationWindowSeconds: 30 };
    const s = new AppScaler(entry(2, up), T0);
    // Usage as a percent of the count running (the load stays the same as replicas are added).
    let running = 2;
    const out = run(
      s,
      1,
      60,
      (t) => cpu(((t < 20 ? 75 : 150) * 2) / running),
      (n) => entry((running = n), up),
    );
    // 75 % of 2 → 3 from t=1; 150 % of 2 → 6 from t=20: at 30 the window has 3s and 6s (→ 3); from
    // there 3 replicas at 100 % still ask for 6, and only 6s are in the window at 49.
    expect(out.map((o) => [o.t, o.replicas])).toEqual([
      [30, 3],
      [49, 6],
    ]);
    expect(out[0]?.message).toMatch(
      /: 2 → 3 replicas \(the lowest recommendation of the 30 s scale-up window\)$/,
    );
  });

  it('clamps to the bounds', () => {
    const s = new AppScaler(
      entry(2, { replicasMin: 2, replicasMax: 3, scaleDownStabilizationWindowSeconds: 0 }),
      T0,
    );
    expect(s.tick(cpu(500), T0)?.replicas).toBe(3);
    const low = new AppScaler(entry(3, { replicasMin: 2, scaleDownStabilizationWindowSeconds: 0 }), T0);
    expect(low.tick(cpu(1), T0 + S)?.replicas).toBe(2);
  });

  it('does not decide again while the entry catches up, and sends again if it never does', () => {
    const s = new AppScaler(entry(2), T0);
    expect(s.tick(cpu(100), T0)?.replicas).toBe(4);
    expect(s.current(T0 + S)).toEqual({ count: 4, pending: true });
    // The metric still shows 2 busy replicas meanwhile: it must not push the count further.
    expect(run(s, 1, PENDING_TIMEOUT_MS / S - 1, () => cpu(100))).toEqual([]);
    expect(run(s, PENDING_TIMEOUT_MS / S, PENDING_TIMEOUT_MS / S, () => cpu(100))).toHaveLength(1);
    // Once the entry has it, the same decision is not sent again.
    s.update(entry(4), T0 + 61 * S);
    expect(run(s, 61, 70, () => cpu(50))).toEqual([]);
  });

  it('decides again at once when the app gets a new desired version meanwhile', () => {
    const s = new AppScaler(entry(2), T0);
    expect(s.tick(cpu(100), T0)?.replicas).toBe(4);
    expect(s.tick(cpu(100), T0 + S)).toBeUndefined();
    // A new spec (bounds, say) before the decision was applied: the scheduler may drop it as stale.
    s.update({ ...entry(2), desiredVersion: 4 }, T0 + 2 * S);
    expect(s.current(T0 + 2 * S)).toEqual({ count: 2, pending: false });
    expect(s.tick(cpu(100), T0 + 2 * S)).toMatchObject({ desiredVersion: 4, replicas: 4 });
  });

  it('sends again what could not be published', () => {
    const s = new AppScaler(entry(2), T0);
    const p = s.tick(cpu(100), T0);
    expect(p?.replicas).toBe(4);
    s.failed(p as NonNullable<typeof p>);
    expect(s.tick(cpu(100), T0 + S)?.replicas).toBe(4);
  });

  it('decides nothing for an app that is not running', () => {
    const s = new AppScaler(entry(2, {}, { state: 'QUEUED' }), T0);
    expect(run(s, 0, 10, () => cpu(300))).toEqual([]);
    expect(s.traffic({ requests: 3, held: 3 }, cpu(300), T0)).toBeUndefined();
  });
});

describe('AppScaler: missing or failing metrics', () => {
  it('holds the count and reports the problem once, then that it cleared', () => {
    const s = new AppScaler(entry(3, { scaleDownStabilizationWindowSeconds: 0 }), T0);
    const bad = 'custom metric http://<SELF>:6000/metrics on replica r1: no value at queue.depth';
    const out = run(s, 0, 400, (t) => (t < 300 ? problem(bad) : cpu(50)));
    expect(out).toEqual([
      { t: 0, replicas: 3, problem: bad, message: `${bad}: holding 3 replicas` },
      {
        t: 300,
        replicas: 3,
        message: 'cpu 50 % of target 50 % (2 ready, over 10 s): 3 replicas, the metric is readable again',
      },
    ]);
  });

  it('reports a different problem when it changes', () => {
    const s = new AppScaler(entry(2), T0);
    expect(s.tick(problem('a'), T0)?.problem).toBe('a');
    expect(s.tick(problem('a'), T0 + S)).toBeUndefined();
    expect(s.tick(problem('b'), T0 + 2 * S)?.problem).toBe('b');
  });

  it('never scales down, nor to zero, on missing data', () => {
    const s = new AppScaler(entry(2, { replicasMin: 0, scaleDownStabilizationWindowSeconds: 0 }), T0);
    expect(run(s, 0, 3600, () => waiting)).toEqual([]);
    expect(run(s, 3601, 7200, () => problem('no CPU usage reported')).map((o) => o.replicas)).toEqual([2]);
  });
});

describe('AppScaler: scale to zero', () => {
  const zeroable = { replicasMin: 0, scaleDownStabilizationWindowSeconds: 300, cooldownPeriodSeconds: 30 };

  it('goes to 0 after the down window plus the cooldown without a request', () => {
    const s = new AppScaler(entry(1, zeroable), T0);
    const out = run(
      s,
      0,
      400,
      () => cpu(10),
      (n) => entry(n, zeroable),
    );
    expect(out).toEqual([
      {
        t: 330,
        replicas: 0,
        message: 'idle for 330 s (scale-down window 300 s + cooldown 30 s): 1 → 0 replicas',
      },
    ]);
  });

  it('counts from the last request', () => {
    const s = new AppScaler(entry(1, zeroable), T0);
    expect(s.traffic({ requests: 4, held: 0 }, cpu(10), T0 + 100 * S)).toBeUndefined();
    expect(s.traffic({ requests: 0, held: 0 }, cpu(10), T0 + 200 * S)).toBeUndefined();
    expect(
      run(
        s,
        0,
        500,
        () => cpu(10),
        (n) => entry(n, zeroable),
      ).map((o) => o.t),
    ).toEqual([430]);
  });

  it('counts from the entry’s replicasSince, for an autoscaler that just started', () => {
    const e = entry(1, zeroable, { replicasSince: new Date(T0 + 50 * S).toISOString() });
    const s = new AppScaler(e, T0);
    expect(
      run(
        s,
        0,
        500,
        () => cpu(10),
        (n) => ({ ...e, replicas: n }),
      ).map((o) => o.t),
    ).toEqual([380]);
  });

  it('does not go to 0 with replicasMin 1, nor while a metric total has work waiting', () => {
    expect(run(new AppScaler(entry(1, { ...zeroable, replicasMin: 1 }), T0), 0, 1000, () => cpu(10))).toEqual(
      [],
    );
    const queue = new AppScaler(entry(1, { ...zeroable, resourceType: undefined }), T0);
    expect(run(queue, 0, 1000, () => total(3, 10))).toEqual([]);
    const drained = new AppScaler(entry(1, { ...zeroable, resourceType: undefined }), T0);
    expect(run(drained, 0, 380, () => total(0, 10)).map((o) => [o.t, o.replicas])).toEqual([[330, 0]]);
  });

  it('goes to 0 from several replicas too', () => {
    const s = new AppScaler(
      entry(3, { ...zeroable, scaleDownStabilizationWindowSeconds: 0, cooldownPeriodSeconds: 60 }),
      T0,
    );
    // 50 % of target keeps 3 replicas by the metric; idleness wins.
    expect(run(s, 0, 100, () => cpu(50)).map((o) => [o.t, o.replicas])).toEqual([[60, 0]]);
  });
});

describe('AppScaler: wake from zero', () => {
  const zeroable = { replicasMin: 0, scaleDownStabilizationWindowSeconds: 300, cooldownPeriodSeconds: 30 };

  it('wakes at once on a held request, without waiting for a tick or a window', () => {
    const s = new AppScaler(entry(0, zeroable), T0);
    expect(run(s, 0, 100, () => waiting)).toEqual([]);
    expect(s.traffic({ requests: 0, held: 0 }, waiting, T0 + 101 * S)).toBeUndefined();
    expect(s.traffic({ requests: 2, held: 2 }, waiting, T0 + 102 * S)).toMatchObject({
      replicas: 1,
      message: '2 requests held at 0 replicas: 0 → 1 replica',
    });
    // Further reports while the scheduler starts the replica: nothing more.
    expect(s.traffic({ requests: 1, held: 3 }, waiting, T0 + 102.5 * S)).toBeUndefined();
    expect(run(s, 103, 110, () => waiting)).toEqual([]);
  });

  it('wakes on requests that were not held, too', () => {
    const s = new AppScaler(entry(0, zeroable), T0);
    expect(s.traffic({ requests: 1, held: 0 }, waiting, T0)?.message).toBe(
      '1 request at 0 replicas: 0 → 1 replica',
    );
  });

  it('wakes to more replicas when a metric total asks for them', () => {
    const s = new AppScaler(entry(0, { ...zeroable, resourceType: undefined }), T0);
    expect(s.traffic({ requests: 0, held: 1 }, total(25, 10), T0)).toMatchObject({
      replicas: 3,
      message: expect.stringMatching(/^1 request held at 0 replicas: 0 → 3 replicas \(custom metric 25 at/),
    });
  });

  it('wakes on a metric total alone at the tick, and stays at 0 on a total of 0', () => {
    const s = new AppScaler(entry(0, { ...zeroable, resourceType: undefined }), T0);
    expect(run(s, 0, 50, () => total(0, 10))).toEqual([]);
    expect(run(s, 51, 60, () => total(12, 10)).map((o) => [o.t, o.replicas])).toEqual([[51, 2]]);
  });

  it('wakes an app whose scale to zero is still on its way', () => {
    const s = new AppScaler(entry(1, zeroable), T0);
    expect(run(s, 0, 330, () => cpu(5)).map((o) => o.replicas)).toEqual([0]);
    expect(s.current(T0 + 331 * S)).toEqual({ count: 0, pending: true });
    expect(s.traffic({ requests: 1, held: 0 }, cpu(5), T0 + 331 * S)?.replicas).toBe(1);
  });

  it('after waking, waits a full window and cooldown again before going back to 0', () => {
    const s = new AppScaler(entry(0, zeroable), T0);
    expect(s.traffic({ requests: 0, held: 1 }, waiting, T0)?.replicas).toBe(1);
    s.update(entry(1, zeroable), T0 + 20 * S);
    expect(run(s, 21, 400, () => cpu(5)).map((o) => [o.t, o.replicas])).toEqual([[350, 0]]);
  });
});
