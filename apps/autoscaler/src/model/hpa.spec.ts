import { describe, expect, it } from '@jest/globals';

import {
  metricBounds,
  pruneHistory,
  rawRecommendation,
  recommend,
  type Recommendation,
  stabilize,
} from './hpa.js';

const per = (value: number, target: number) => ({ kind: 'perReplica' as const, value, target });
const total = (value: number, target: number) => ({ kind: 'total' as const, value, target });

describe('the HPA recommendation', () => {
  it.each([
    // current, usage %, target %, expected
    [2, 50, 50, 2], // on target
    [2, 55, 50, 2], // +10 %: within the tolerance
    [2, 45, 50, 2], // −10 %: within the tolerance
    [2, 56, 50, 3], // just out of it: ceil(2 × 1.12)
    [2, 44, 50, 2], // ceil(2 × 0.88) = 2
    [4, 44, 50, 4], // ceil(4 × 0.88) = 4
    [4, 30, 50, 3], // ceil(2.4)
    [2, 183, 50, 8], // ceil(7.32)
    [3, 200, 150, 4], // 3 × 4/3 is 4, not 5 (floating point)
    [1, 1, 50, 1], // ceil(0.02)
    [0, 90, 50, 0], // nothing runs: nothing to multiply
  ])('%i replicas at %i %% of %i %% → %i', (current, usage, target, expected) =>
    expect(rawRecommendation(current, per(usage, target))).toBe(expected),
  );

  it.each([
    // current, total, target per replica, expected
    [2, 40, 10, 4],
    [2, 21, 10, 2], // 21 / 20 = 1.05: within the tolerance
    [2, 23, 10, 3],
    [0, 5, 10, 1], // a total can wake an app
    [0, 0, 10, 0], // … or leave it asleep
    [3, 0, 10, 0],
  ])('a total: %i replicas, %d for %d each → %i', (current, value, target, expected) =>
    expect(rawRecommendation(current, total(value, target))).toBe(expected),
  );

  it('is clamped to the bounds, never below 1 from a metric', () => {
    const b = metricBounds({
      replicasMin: 0,
      replicasMax: 4,
      scaleUpStabilizationWindowSeconds: 0,
      scaleDownStabilizationWindowSeconds: 300,
    });
    expect(b).toEqual({ min: 1, max: 4 });
    expect(recommend(2, per(500, 50), b)).toBe(4);
    expect(recommend(2, per(1, 50), b)).toBe(1);
    expect(recommend(2, total(0, 10), b)).toBe(1);
    expect(recommend(2, per(50, 50), { min: 3, max: 5 })).toBe(3);
  });
});

describe('stabilization', () => {
  const S = 1000;
  const hist = (...pairs: Array<[number, number]>): Recommendation[] =>
    pairs.map(([at, replicas]) => ({ at: at * S, replicas }));

  it('with no window, follows the recommendation at once', () => {
    expect(stabilize([], 100 * S, 2, 5, 0, 0)).toEqual({ replicas: 5 });
    expect(stabilize(hist([99, 9]), 100 * S, 5, 2, 0, 0)).toEqual({ replicas: 2 });
  });

  it('scales up only to the lowest recommendation of the up window', () => {
    const h = hist([70, 2], [80, 3], [90, 6]);
    expect(stabilize(h, 100 * S, 2, 6, 60 * S, 300 * S)).toEqual({ replicas: 2, heldBy: 'up' });
    expect(stabilize(h, 100 * S, 2, 6, 25 * S, 300 * S)).toEqual({ replicas: 3, heldBy: 'up' });
    expect(stabilize(h, 100 * S, 2, 6, 15 * S, 300 * S)).toEqual({ replicas: 6 });
  });

  it('scales down only to the highest recommendation of the down window', () => {
    const h = hist([10, 6], [200, 3], [290, 1]);
    expect(stabilize(h, 300 * S, 6, 1, 0, 300 * S)).toEqual({ replicas: 6, heldBy: 'down' });
    expect(stabilize(h, 311 * S, 6, 1, 0, 300 * S)).toEqual({ replicas: 3, heldBy: 'down' });
    expect(stabilize(h, 501 * S, 6, 1, 0, 300 * S)).toEqual({ replicas: 1 });
  });

  it('changes direction at most once per window under a load that swings every tick', () => {
    const upMs = 30 * S;
    const downMs = 60 * S;
    // As the app scaler does: the count found is taken as the recommendation of the moment.
    let history: Recommendation[] = [{ at: 0, replicas: 2 }];
    let current = 2;
    const counts: number[] = [];
    for (let t = 0; t < 600; t++) {
      const now = t * S;
      const recommended = t % 2 === 0 ? 6 : 1; // the worst case: every tick the other way
      current = stabilize(history, now, current, recommended, upMs, downMs).replicas;
      history = pruneHistory([...history, { at: now, replicas: recommended }], now, downMs);
      counts.push(current);
    }
    const changes = counts.flatMap((c, i) => (i > 0 && c !== counts[i - 1] ? [i] : []));
    // A swinging load is held: the down window always has a 6, the up window always a 1.
    expect(changes).toEqual([]);
    expect(new Set(counts)).toEqual(new Set([2]));
  });

  it('follows a step load with one change up and one down, each after its window', () => {
    const upMs = 20 * S;
    const downMs = 60 * S;
    let history: Recommendation[] = [];
    let current = 1;
    const changes: Array<[number, number]> = [];
    for (let t = 0; t < 300; t++) {
      const now = t * S;
      const recommended = t >= 50 && t < 150 ? 4 : 1; // load from 50 s to 150 s
      const next = stabilize(history, now, current, recommended, upMs, downMs).replicas;
      if (next !== current) changes.push([t, next]);
      current = next;
      history = pruneHistory([...history, { at: now, replicas: recommended }], now, downMs);
    }
    expect(changes).toEqual([
      [69, 4], // 4 recommended for 20 s (50…69)
      [209, 1], // 1 recommended for 60 s (150…209)
    ]);
  });

  it('never has two reversals within one window, whatever the recommendations', () => {
    const upMs = 15 * S;
    const downMs = 40 * S;
    let seed = 7;
    const random = (): number => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    let history: Recommendation[] = [];
    let current = 3;
    const moves: Array<{ t: number; dir: number }> = [];
    for (let t = 0; t < 5000; t++) {
      const now = t * S;
      // Runs of random length at random levels.
      const recommended = 1 + Math.floor(random() * 8);
      const next = stabilize(history, now, current, recommended, upMs, downMs).replicas;
      if (next !== current) moves.push({ t, dir: Math.sign(next - current) });
      current = next;
      history = pruneHistory([...history, { at: now, replicas: recommended }], now, downMs);
    }
    const reversals = moves.filter((m, i) => i > 0 && m.dir !== moves[i - 1]?.dir).map((m) => m.t);
    for (let i = 2; i < reversals.length; i++)
      expect((reversals[i] ?? 0) - (reversals[i - 2] ?? 0)).toBeGreaterThanOrEqual(
        Math.min(upMs, downMs) / S,
      );
  });

  it('forgets what no window sees', () => {
    expect(pruneHistory(hist([1, 1], [50, 2], [99, 3]), 100 * S, 50 * S)).toEqual(hist([99, 3]));
  });
});
