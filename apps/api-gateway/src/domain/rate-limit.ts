/** How fast a key may call: `ratePerSecond` on average, `burst` at once; at most `maxBuckets` keys kept. */
export interface BucketPolicy {
  ratePerSecond: number;
  burst: number;
  maxBuckets: number;
}

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last computed (ms). */
  at: number;
}

/**
 * Token buckets, one per key (a token id, a client address). Each starts full (`burst`), refills at
 * `ratePerSecond` up to `burst`, and a call takes one token; with none left the call is refused with
 * the whole seconds until one is back. Pure apart from its own map: the caller passes the time.
 *
 * Bounded: a bucket idle long enough to have refilled is the same as no bucket and is dropped (the
 * map is kept in least-recently-used order, so that check stops at the first recent one); past
 * `maxBuckets` the least recently used are dropped even if not full (those keys start full again).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillMs: number;

  constructor(readonly policy: BucketPolicy) {
    if (!(policy.ratePerSecond > 0) || !(policy.burst >= 1) || !(policy.maxBuckets >= 1))
      throw new Error('a bucket policy needs ratePerSecond > 0, burst >= 1 and maxBuckets >= 1');
    this.refillMs = (policy.burst / policy.ratePerSecond) * 1000;
  }

  /** Takes one token from `key`'s bucket at time `nowMs`. */
  take(key: string, nowMs: number): TakeResult {
    const { burst, ratePerSecond } = this.policy;
    const found = this.buckets.get(key);
    const elapsed = found ? Math.max(0, nowMs - found.at) : 0;
    let tokens = found ? Math.min(burst, found.tokens + (elapsed / 1000) * ratePerSecond) : burst;
    this.buckets.delete(key); // re-inserted last: most recently used
    const ok = tokens >= 1;
    if (ok) tokens -= 1;
    this.buckets.set(key, { tokens, at: nowMs });
    this.evict(nowMs);
    return ok
      ? { ok: true, remaining: Math.floor(tokens) }
      : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / ratePerSecond)) };
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  private evict(nowMs: number): void {
    for (const [key, b] of this.buckets) {
      if (nowMs - b.at < this.refillMs) break;
      this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.policy.maxBuckets) break;
      this.buckets.delete(key);
    }
  }
}
