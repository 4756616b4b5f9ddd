import { describe, expect, it } from '@jest/globals';

import { describeLivenessFailure, livenessDelayMs, LivenessTracker, nextTryInMs } from './liveness.js';

const ok = { ok: true, detail: 'answered 200' };
const refused = { ok: false, detail: 'connection refused' };

describe('LivenessTracker', () => {
  it('finds the container dead at the third failure in a row, and counts again after a success', () => {
    const t = new LivenessTracker(3);
    const seen = [refused, refused, ok, refused, refused, { ok: false, detail: 'answered 500' }, refused].map(
      (o) => t.observe(o),
    );
    expect(seen).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      { failures: 3, last: 'answered 500' },
      undefined,
    ]);
  });

  it('with a threshold of 1, the first failure is enough', () => {
    const t = new LivenessTracker(1);
    expect(t.observe(ok)).toBeUndefined();
    expect(t.observe(refused)).toEqual({ failures: 1, last: 'connection refused' });
  });
});

describe('liveness timing', () => {
  it('waits out what is left of the startup grace, from when the container started', () => {
    const started = 1_000_000;
    expect(livenessDelayMs(started, 30, started)).toBe(30_000);
    expect(livenessDelayMs(started, 30, started + 12_000)).toBe(18_000);
    // Adopted long after it started: no grace left.
    expect(livenessDelayMs(started, 30, started + 600_000)).toBe(0);
    expect(livenessDelayMs(started, 0, started)).toBe(0);
  });

  it('starts tries a period apart, however long one took', () => {
    expect(nextTryInMs(10, 0)).toBe(10_000);
    expect(nextTryInMs(10, 2_000)).toBe(8_000);
    expect(nextTryInMs(1, 2_000)).toBe(0);
  });
});

describe('describeLivenessFailure', () => {
  it('names the probe, the count and what the last try got', () => {
    expect(
      describeLivenessFailure({ path: '/healthz', port: 8080 }, { failures: 3, last: 'connection refused' }),
    ).toBe('liveness probe GET /healthz on :8080 failed 3 times in a row (last: connection refused)');
    expect(describeLivenessFailure({ path: '/', port: 9000 }, { failures: 1, last: 'answered 503' })).toBe(
      'liveness probe GET / on :9000 failed once (last: answered 503)',
    );
  });
});
