import { GantryError } from '@gantry/errors';
import { Inject, Injectable } from '@nestjs/common';

import { TokenBuckets } from '../domain/rate-limit.js';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from './config.token.js';

/** Who a request is counted against: its token, or (unauthenticated) its client address. */
export type Caller = { kind: 'token'; id: string; name: string } | { kind: 'address'; address: string };

/**
 * Per-caller rate limits (RATE_LIMIT_PER_SECOND on average, RATE_LIMIT_BURST at once), in memory:
 * one gateway holds the buckets. Over the limit → 429 RATE_LIMITED with `retryAfterSeconds` (the
 * HTTP filter turns it into a Retry-After header).
 */
@Injectable()
export class RateLimiter {
  private readonly buckets: TokenBuckets;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig) {
    this.buckets = new TokenBuckets({
      ratePerSecond: config.RATE_LIMIT_PER_SECOND,
      burst: config.RATE_LIMIT_BURST,
      maxBuckets: config.RATE_LIMIT_MAX_BUCKETS,
    });
  }

  /** Counts one request against `caller`; throws 429 when it has none left. */
  take(caller: Caller, nowMs = Date.now()): void {
    const key = caller.kind === 'token' ? `token:${caller.id}` : `address:${caller.address}`;
    const result = this.buckets.take(key, nowMs);
    if (result.ok) return;
    const who =
      caller.kind === 'token'
        ? `too many requests for token ${caller.name}`
        : `too many unauthenticated requests from ${caller.address}`;
    throw new GantryError(
      'RATE_LIMITED',
      `${who}: at most ${this.config.RATE_LIMIT_PER_SECOND} per second (bursts of ${this.config.RATE_LIMIT_BURST}); retry in ${result.retryAfterSeconds} s`,
      { details: { retryAfterSeconds: result.retryAfterSeconds } },
    );
  }
}
