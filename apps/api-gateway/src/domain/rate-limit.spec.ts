import { describe, expect, it } from '@jest/globals';

import { TokenBuckets } from './rate-limit.js';

describe('TokenBuckets', () => {
  it('lets a burst through, then refuses with the seconds until a token is back', () => {
    const b = new TokenBuckets({ ratePerSecond: 2, burst: 3, maxBuckets: 10 });
    expect([1, 2, 3].map(() => b.take('t', 0))).toEqual([
      { ok: true, remaining: 2 },
      { ok: true, remaining: 1 },
      { ok: true, remaining: 0 },
    ]);
    expect(b.take('t', 0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // Half a second later one token is back (2 per second).
    expect(b.take('t', 500)).toEqual({ ok: true, remaining: 0 });
    expect(b.take('t', 600)).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it('refills at the rate, never above the burst', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 2, maxBuckets: 10 });
    b.take('t', 0);
    b.take('t', 0);
    expect(b.take('t', 60_000)).toEqual({ ok: true, remaining: 1 });
    expect(b.take('t', 60_000)).toEqual({ ok: true, remaining: 0 });
    expect(b.take('t', 60_000).ok).toBe(false);
  });

  it('says how long to wait when the rate is slow', () => {
    const b = new TokenBuckets({ ratePerSecond: 0.1, burst: 1, maxBuckets: 10 });
    expect(b.take('t', 0).ok).toBe(true);
    expect(b.take('t', 1000)).toEqual({ ok: false, retryAfterSeconds: 9 });
  });

  it('keeps one bucket per key', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 1, maxBuckets: 10 });
    expect(b.take('a', 0).ok).toBe(true);
    expect(b.take('a', 0).ok).toBe(false);
    expect(b.take('b', 0).ok).toBe(true);
  });

  it('is not fooled by a clock that goes back', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 1, maxBuckets: 10 });
    expect(b.take('t', 10_000).ok).toBe(true);
    expect(b.take('t', 5_000).ok).toBe(false);
  });

  it('drops buckets idle long enough to be full again', () => {
    const b = new TokenBuckets({ ratePerSecond: 10, burst: 20, maxBuckets: 1000 });
    for (let i = 0; i < 100; i++) b.take(`k${i}`, 0);
    expect(b.size).toBe(100);
    b.take('k5', 1000);
    expect(b.size).toBe(100); // nothing has been idle for 2 s yet
    b.take('late', 2000);
    // Every key idle since 0 has refilled (20 tokens at 10/s = 2 s) and is gone; k5 (used at 1 s) stays.
    expect(b.size).toBe(2);
    // A dropped key starts with a full bucket, as if it had been kept.
    expect(b.take('k1', 2000)).toEqual({ ok: true, remaining: 19 });
  });

  it('never holds more than maxBuckets keys, dropping the least recently used', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 5, maxBuckets: 3 });
    b.take('a', 0);
    b.take('b', 1);
    b.take('c', 2);
    b.take('a', 3); // a is now the most recent
    b.take('d', 4);
    expect(b.size).toBe(3);
    // b was the least recently used: it starts full again; a kept its state.
    expect(b.take('b', 5)).toEqual({ ok: true, remaining: 4 });
    expect(b.take('a', 5)).toEqual({ ok: true, remaining: 2 });
  });

  it('refuses a policy that could never let anything through', () => {
    expect(() => new TokenBuckets({ ratePerSecond: 0, burst: 1, maxBuckets: 1 })).toThrow(/ratePerSecond/);
    expect(() => new TokenBuckets({ ratePerSecond: 1, burst: 0, maxBuckets: 1 })).toThrow(/burst/);
  });
});
