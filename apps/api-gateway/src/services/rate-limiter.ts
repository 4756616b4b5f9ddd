import { GantryError } from '@gantry/errors';
import { Inject, Injectable } from '@nestjs/common';

import { type Limited, RequestLimits, type Ticket } from '../domain/rate-limit.js';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from './config.token.js';

/**
 * Per-caller rate limits (RATE_LIMIT_PER_SECOND on average, RATE_LIMIT_BURST at once, at most
 * RATE_LIMIT_MAX_BUCKETS callers tracked), in memory: one gateway holds the buckets. Every decision
 * is made before the database is asked anything (see `RequestLimits`). Over the limit → 429
 * RATE_LIMITED with `retryAfterSeconds` (the HTTP filter turns it into a Retry-After header).
 */
@Injectable()
export class RateLimiter {
  private readonly limits: RequestLimits;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig) {
    this.limits = new RequestLimits({
      ratePerSecond: config.RATE_LIMIT_PER_SECOND,
      burst: config.RATE_LIMIT_BURST,
      maxBuckets: config.RATE_LIMIT_MAX_BUCKETS,
    });
  }

  /** Counts a request without a token against its client address; 429 when it has none left. */
  anonymous(address: string, nowMs = Date.now()): void {
    const limited = this.limits.anonymous(address, nowMs);
    if (limited) throw this.refusal(limited);
  }

  /**
   * Counts a request presenting the token whose SHA-256 is `hash`, before the token is looked up;
   * 429 when it (or, for a token not seen valid lately, its address) has none left. Tell the outcome
   * of the lookup with `authenticated` or `rejected`.
   */
  presented(hash: string, address: string, nowMs = Date.now()): Ticket {
    const r = this.limits.presented(hash, address, nowMs);
    if ('limited' in r) throw this.refusal(r.limited);
    return r.ticket;
  }

  authenticated(ticket: Ticket, tokenName: string): void {
    this.limits.authenticated(ticket, tokenName);
  }

  /** The token was not valid: 429 rather than 401 when that took its address past its limit. */
  rejected(ticket: Ticket, nowMs = Date.now()): void {
    const limited = this.limits.rejected(ticket, nowMs);
    if (limited) throw this.refusal(limited);
  }

  private refusal(limited: Limited): GantryError {
    const { RATE_LIMIT_PER_SECOND: rate, RATE_LIMIT_BURST: burst, RATE_LIMIT_MAX_BUCKETS: max } = this.config;
    const retry = `retry in ${limited.retryAfterSeconds} s`;
    const who =
      limited.against.kind === 'address'
        ? `unauthenticated requests from ${limited.against.address}`
        : limited.against.name === undefined
          ? 'requests for this token'
          : `requests for token ${limited.against.name}`;
    const message =
      limited.why === 'full'
        ? `too many callers at once: the gateway follows at most ${max}, and every one of them is still being limited; ${retry}`
        : `too many ${who}: at most ${rate} per second (bursts of ${burst}); ${retry}`;
    return new GantryError('RATE_LIMITED', message, {
      details: { retryAfterSeconds: limited.retryAfterSeconds },
    });
  }
}
