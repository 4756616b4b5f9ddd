import { describe, expect, it } from '@jest/globals';

import { DEFAULT_RESTART_POLICY as P, restartDecision, retryDelay } from './backoff.js';

describe('restartDecision', () => {
  it('restarts a replica that was never ready after 1 s, 2 s, 4 s, then fails it', () => {
    let streak = 0;
    const delays: number[] = [];
    for (;;) {
      const d = restartDecision(P, { everReady: false, streak, ranMs: 50 });
      if (d.action === 'fail') break;
      delays.push(d.delayMs);
      streak = d.streak;
    }
    expect(delays).toEqual([1000, 2000, 4000]);
    expect(streak).toBe(3);
  });

  it('never fails a replica that was ready, doubling up to 30 s', () => {
    let streak = 0;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const d = restartDecision(P, { everReady: true, streak, ranMs: 1000 });
      expect(d.action).toBe('restart');
      if (d.action === 'restart') delays.push(d.delayMs);
      streak = d.streak;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('starts a new streak after a long enough run (a ready replica only)', () => {
    expect(restartDecision(P, { everReady: true, streak: 6, ranMs: P.stableAfterMs })).toEqual({
      action: 'restart',
      delayMs: 1000,
      streak: 1,
    });
    expect(restartDecision(P, { everReady: false, streak: 3, ranMs: P.stableAfterMs })).toEqual({
      action: 'fail',
      streak: 3,
    });
  });

  it('bounds huge streaks', () => {
    expect(restartDecision(P, { everReady: true, streak: 10_000, ranMs: 0 })).toMatchObject({ delayMs: 30_000 });
  });
});

describe('retryDelay', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 10, 500].map((n) => retryDelay(n, 200, 5000))).toEqual([200, 400, 800, 1600, 5000, 5000]);
  });
});
