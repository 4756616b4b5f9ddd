/** How fast a key may call: `ratePerSecond` on average, `burst` at once; at most `maxBuckets` keys kept. */
export interface BucketPolicy {
  ratePerSecond: number;
  burst: number;
  maxBuckets: number;
}

/**
 * A call refused: its bucket is `empty`, or it has none and there is no room for one (`full`: every
 * bucket kept is still in use).
 */
export interface Refusal {
  retryAfterSeconds: number;
  why: 'empty' | 'full';
}

export type TakeResult = { ok: true; remaining: number } | ({ ok: false } & Refusal);

interface Bucket {
  tokens: number;
  /** When `tokens` was last computed (ms). */
  at: number;
}

/**
 * Token buckets, one per key (a token's hash, a client address). Each starts full (`burst`), refills
 * at `ratePerSecond` up to `burst`, and a call takes one token; with none left the call is refused
 * with the whole seconds until one is back. Pure apart from its own map: the caller passes the time.
 *
 * Bounded without forgetting anyone who is being limited: a bucket idle long enough to have refilled
 * is the same as no bucket and is dropped (the map is kept in least-recently-used order, so that
 * check stops at the first recent one). A bucket still refilling is never dropped — that would hand
 * its key a full burst again, so flooding the map with new keys would reset a limited one. With
 * `maxBuckets` buckets all still refilling, a new key is refused (`full`) until the oldest has
 * refilled.
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
    if (!found) {
      this.dropIdle(nowMs);
      if (this.buckets.size >= this.policy.maxBuckets)
        return { ok: false, why: 'full', retryAfterSeconds: this.secondsUntilRoom(nowMs) };
    }
    const elapsed = found ? Math.max(0, nowMs - found.at) : 0;
    let tokens = found ? Math.min(burst, found.tokens + (elapsed / 1000) * ratePerSecond) : burst;
    this.buckets.delete(key); // re-inserted last: most recently used
    const ok = tokens >= 1;
    if (ok) tokens -= 1;
    this.buckets.set(key, { tokens, at: Math.max(nowMs, found?.at ?? nowMs) });
    return ok
      ? { ok: true, remaining: Math.floor(tokens) }
      : {
          ok: false,
          why: 'empty',
          retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / ratePerSecond)),
        };
  }

  /** Gives back a token taken from `key` (a call that turned out not to count), up to the burst. */
  giveBack(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.policy.burst, b.tokens + 1);
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  private dropIdle(nowMs: number): void {
    for (const [key, b] of this.buckets) {
      if (nowMs - b.at < this.refillMs) break;
      this.buckets.delete(key);
    }
  }

  /** Until the least recently used bucket has refilled, and so may be dropped. */
  private secondsUntilRoom(nowMs: number): number {
    const oldest = this.buckets.values().next().value;
    const wait = oldest ? this.refillMs - (nowMs - oldest.at) : 0;
    return Math.max(1, Math.ceil(wait / 1000));
  }
}

/** A map of at most `max` entries that forgets the least recently set first. */
export class RecentMap<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.max) break;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Whom a refused request was counted against: a token (named when it is known), or an address. */
export type Against = { kind: 'token'; name?: string } | { kind: 'address'; address: string };

/** A request refused before its token was looked up. */
export type Limited = Refusal & { against: Against };

/** What `RequestLimits.presented` hands to the lookup's outcome (`authenticated` or `rejected`). */
export interface Ticket {
  readonly key: string;
  readonly address: string;
  /** Whether the address paid for this request (a token that has not authenticated lately). */
  readonly addressPaid: boolean;
}

/**
 * The API's rate limits, decided before any database work: a request is counted against what it
 * presents — the SHA-256 of its bearer token (never the token), or its client address when it has
 * none — so that a flood of one token, valid or not, is refused without a lookup.
 *
 * A token that has not authenticated lately is also paid for by its client address, before the
 * lookup: otherwise a flood of made-up tokens, each a new key with a full burst, would reach the
 * database once per request. The address gets its token back when the lookup succeeds (a valid token
 * costs its address nothing), and keeps the cost when it fails — guessing tokens costs the guesser's
 * address, and past its limit the guesses are refused without a lookup. Tokens that authenticated
 * lately (up to `maxBuckets` of them, with their names for the messages) skip the address, so that
 * a guesser behind the same address does not lock out the tokens in use there.
 *
 * Pure apart from its own maps: the caller passes the time.
 */
export class RequestLimits {
  private readonly buckets: TokenBuckets;
  /** Key → name of the tokens that authenticated lately. */
  private readonly known: RecentMap<string>;

  constructor(policy: BucketPolicy) {
    this.buckets = new TokenBuckets(policy);
    this.known = new RecentMap(policy.maxBuckets);
  }

  /** A request without a (well-formed) token: counted against its address. */
  anonymous(address: string, nowMs: number): Limited | undefined {
    return this.take(`address:${address}`, { kind: 'address', address }, nowMs);
  }

  /** A request with a token whose SHA-256 is `hash`, before the token is looked up. */
  presented(hash: string, address: string, nowMs: number): { ticket: Ticket } | { limited: Limited } {
    const key = `token:${hash}`;
    const name = this.known.get(key);
    const addressPaid = name === undefined;
    if (addressPaid) {
      const limited = this.anonymous(address, nowMs);
      if (limited) return { limited };
    }
    const limited = this.take(key, { kind: 'token', ...(name === undefined ? {} : { name }) }, nowMs);
    if (limited) {
      if (addressPaid) this.buckets.giveBack(`address:${address}`);
      return { limited };
    }
    return { ticket: { key, address, addressPaid } };
  }

  /** The token was valid: its address gets back what it paid; the token is known by `name` from now. */
  authenticated(ticket: Ticket, name: string): void {
    if (ticket.addressPaid) this.buckets.giveBack(`address:${ticket.address}`);
    this.known.set(ticket.key, name);
  }

  /**
   * The token was not valid (unknown, or revoked since it was known): the address pays for it if it
   * has not yet — over its limit, the answer is this refusal rather than 401.
   */
  rejected(ticket: Ticket, nowMs: number): Limited | undefined {
    this.known.delete(ticket.key);
    return ticket.addressPaid ? undefined : this.anonymous(ticket.address, nowMs);
  }

  private take(key: string, against: Against, nowMs: number): Limited | undefined {
    const r = this.buckets.take(key, nowMs);
    return r.ok ? undefined : { why: r.why, retryAfterSeconds: r.retryAfterSeconds, against };
  }
}
