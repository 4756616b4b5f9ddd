import { describe, expect, it } from '@jest/globals';

import { RecentMap, RequestLimits, TokenBuckets } from './rate-limit.js';

describe('TokenBuckets', () => {
  it('lets a burst through, then refuses with the seconds until a token is back', () => {
    const b = new TokenBuckets({ ratePerSecond: 2, burst: 3, maxBuckets: 10 });
    expect([1, 2, 3].map(() => b.take('t', 0))).toEqual([
      { ok: true, remaining: 2 },
      { ok: true, remaining: 1 },
      { ok: true, remaining: 0 },
    ]);
    expect(b.take('t', 0)).toEqual({ ok: false, why: 'empty', retryAfterSeconds: 1 });
    // Half a second later one token is back (2 per second).
    expect(b.take('t', 500)).toEqual({ ok: true, remaining: 0 });
    expect(b.take('t', 600)).toEqual({ ok: false, why: 'empty', retryAfterSeconds: 1 });
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
    expect(b.take('t', 1000)).toEqual({ ok: false, why: 'empty', retryAfterSeconds: 9 });
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
    // The refill counts from the latest time seen, not from the one that went back.
    expect(b.take('t', 6_000).ok).toBe(false);
    expect(b.take('t', 11_000).ok).toBe(true);
  });

  it('gives back a token taken, never above the burst', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 2, maxBuckets: 10 });
    b.take('t', 0);
    b.take('t', 0);
    b.giveBack('t');
    expect(b.take('t', 0)).toEqual({ ok: true, remaining: 0 });
    b.giveBack('t');
    b.giveBack('t');
    b.giveBack('t');
    expect(b.take('t', 0)).toEqual({ ok: true, remaining: 1 });
    b.giveBack('unknown'); // nothing to give back to
    expect(b.size).toBe(1);
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

  it('never holds more than maxBuckets keys: a new key waits while every bucket is still refilling', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 5, maxBuckets: 3 });
    b.take('a', 0);
    b.take('b', 1000);
    b.take('c', 2000);
    // a (used at 0 s) is full again at 5 s: until then there is no room, and d is told when there is.
    expect(b.take('d', 3000)).toEqual({ ok: false, why: 'full', retryAfterSeconds: 2 });
    expect(b.size).toBe(3);
    expect(b.take('a', 3000).ok).toBe(true); // a known key is served as ever
    // Now b is the oldest (1 s): room at 6 s.
    expect(b.take('d', 5500)).toEqual({ ok: false, why: 'full', retryAfterSeconds: 1 });
    expect(b.take('d', 6000)).toEqual({ ok: true, remaining: 4 });
    expect(b.size).toBe(3);
  });

  it('cannot be reset by flooding it with other keys', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 3, maxBuckets: 100 });
    for (let i = 0; i < 3; i++) b.take('flooder', 0);
    expect(b.take('flooder', 0).ok).toBe(false);
    // A thousand new keys in the same second: the flooder's empty bucket stays; the extra keys wait.
    const refused = Array.from({ length: 1000 }, (_, i) => b.take(`k${i}`, 500)).filter((r) => !r.ok);
    expect(refused).toHaveLength(901);
    expect(refused[0]).toEqual({ ok: false, why: 'full', retryAfterSeconds: 3 });
    expect(b.take('flooder', 900)).toEqual({ ok: false, why: 'empty', retryAfterSeconds: 1 });
    expect(b.size).toBe(100);
  });

  it('refuses a policy that could never let anything through', () => {
    expect(() => new TokenBuckets({ ratePerSecond: 0, burst: 1, maxBuckets: 1 })).toThrow(/ratePerSecond/);
    expect(() => new TokenBuckets({ ratePerSecond: 1, burst: 0, maxBuckets: 1 })).toThrow(/burst/);
  });
});

describe('RecentMap', () => {
  it('keeps the most recently set entries, at most max', () => {
    const m = new RecentMap<number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 3); // a is now the most recent
    m.set('c', 4);
    expect([m.get('a'), m.get('b'), m.get('c')]).toEqual([3, undefined, 4]);
    expect(m.size).toBe(2);
    m.delete('a');
    expect(m.get('a')).toBeUndefined();
  });
});

describe('RequestLimits: decided before the token is looked up', () => {
  const policy = { ratePerSecond: 1, burst: 3, maxBuckets: 1000 };
  const HASH = 'a'.repeat(64);

  it('counts a request without a token against its address', () => {
    const l = new RequestLimits(policy);
    expect([1, 2, 3].map(() => l.anonymous('10.0.0.1', 0))).toEqual([undefined, undefined, undefined]);
    expect(l.anonymous('10.0.0.1', 0)).toEqual({
      why: 'empty',
      retryAfterSeconds: 1,
      against: { kind: 'address', address: '10.0.0.1' },
    });
    expect(l.anonymous('10.0.0.2', 0)).toBeUndefined(); // another address has its own
  });

  it('limits a flood of one invalid token by its hash, with no lookup past the burst', () => {
    const l = new RequestLimits({ ...policy, burst: 100 });
    let lookups = 0;
    let limited = 0;
    for (let i = 0; i < 500; i++) {
      const r = l.presented(HASH, '10.0.0.1', 0);
      if ('limited' in r) {
        limited++;
        continue;
      }
      lookups++;
      l.rejected(r.ticket, 0);
    }
    // Each lookup that failed cost the address too: its 100 are gone, then every request is refused.
    expect(lookups).toBe(100);
    expect(limited).toBe(400);
  });

  it('limits a flood of made-up tokens by their address, before any lookup', () => {
    const l = new RequestLimits(policy);
    const outcomes = Array.from({ length: 10 }, (_, i) => {
      const r = l.presented(`${i}`.padStart(64, 'f'), '10.0.0.1', 0);
      if ('limited' in r) return r.limited.against;
      l.rejected(r.ticket, 0);
      return 'looked up';
    });
    expect(outcomes).toEqual([
      'looked up',
      'looked up',
      'looked up',
      ...Array.from({ length: 7 }, () => ({ kind: 'address', address: '10.0.0.1' })),
    ]);
  });

  it('a valid token costs its address nothing, and is then counted by its name alone', () => {
    const l = new RequestLimits(policy);
    const first = l.presented(HASH, '10.0.0.1', 0);
    if (!('ticket' in first)) throw new Error('refused');
    expect(first.ticket).toEqual({ key: `token:${HASH}`, address: '10.0.0.1', addressPaid: true });
    l.authenticated(first.ticket, 'ci');
    // The address has its three left for others...
    for (let i = 0; i < 3; i++) expect(l.anonymous('10.0.0.1', 0)).toBeUndefined();
    expect(l.anonymous('10.0.0.1', 0)).toMatchObject({ against: { kind: 'address' } });
    // ... and, though it is spent (a guesser behind it), the known token still gets through, until its own run out.
    const second = l.presented(HASH, '10.0.0.1', 0);
    expect(second).toEqual({ ticket: { key: `token:${HASH}`, address: '10.0.0.1', addressPaid: false } });
    expect(l.presented(HASH, '10.0.0.1', 0)).toHaveProperty('ticket');
    expect(l.presented(HASH, '10.0.0.1', 0)).toEqual({
      limited: { why: 'empty', retryAfterSeconds: 1, against: { kind: 'token', name: 'ci' } },
    });
  });

  it('a token refused for its own limit gives its address back what it paid', () => {
    const l = new RequestLimits({ ...policy, burst: 2 });
    for (let i = 0; i < 2; i++) {
      const r = l.presented(HASH, '10.0.0.1', 0);
      if ('limited' in r) throw new Error('refused');
      l.rejected(r.ticket, 0);
    }
    // From another address the token is refused for itself, and that address keeps its two.
    expect(l.presented(HASH, '10.0.0.2', 0)).toEqual({
      limited: { why: 'empty', retryAfterSeconds: 1, against: { kind: 'token' } },
    });
    expect([l.anonymous('10.0.0.2', 0), l.anonymous('10.0.0.2', 0)]).toEqual([undefined, undefined]);
    expect(l.anonymous('10.0.0.2', 0)).toMatchObject({ against: { kind: 'address' } });
  });

  it('a known token revoked since: its address pays for the failure, and it is known no more', () => {
    const l = new RequestLimits(policy);
    const first = l.presented(HASH, '10.0.0.1', 0);
    if (!('ticket' in first)) throw new Error('refused');
    l.authenticated(first.ticket, 'old');
    for (let i = 0; i < 3; i++) expect(l.anonymous('10.0.0.1', 0)).toBeUndefined();
    const revoked = l.presented(HASH, '10.0.0.1', 0);
    if (!('ticket' in revoked)) throw new Error('refused');
    // Its address is spent: over its limit, the answer is 429 rather than 401.
    expect(l.rejected(revoked.ticket, 0)).toMatchObject({
      against: { kind: 'address', address: '10.0.0.1' },
    });
    expect(l.presented(HASH, '10.0.0.1', 0)).toMatchObject({ limited: { against: { kind: 'address' } } });
  });

  it('when every bucket is in use, a new caller waits rather than anyone being forgotten', () => {
    const l = new RequestLimits({ ratePerSecond: 1, burst: 3, maxBuckets: 2 });
    expect(l.anonymous('10.0.0.1', 0)).toBeUndefined();
    expect(l.anonymous('10.0.0.2', 0)).toBeUndefined();
    expect(l.anonymous('10.0.0.3', 0)).toEqual({
      why: 'full',
      retryAfterSeconds: 3,
      against: { kind: 'address', address: '10.0.0.3' },
    });
    expect(l.anonymous('10.0.0.3', 3000)).toBeUndefined();
  });
});
