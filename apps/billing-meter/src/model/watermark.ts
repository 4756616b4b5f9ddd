/**
 * How far the meter has read the status stream, as an instant. The ledger must not record a period
 * from a timeline that is missing events already in the stream (after a restart, the durable
 * consumer may have a backlog): it closes periods only up to the instant before which every status
 * event stored in the stream has been handled.
 */

/** One look at the billing consumer, taken at `at` (read before the figures below). */
export interface FeedSample {
  readonly at: number;
  /** Status messages not yet delivered to the meter. */
  readonly pending: number;
  /** Delivered but not yet acknowledged (being handled, or waiting for redelivery). */
  readonly ackPending: number;
  /** Every stream message up to this sequence is acknowledged by the meter. */
  readonly ackFloor: number;
  /** The stream's last sequence (read after `at`). */
  readonly lastSeq: number;
}

/**
 * Several consumers of one stream as one feed: what either still has to handle, and the floor below
 * which both have handled everything. A consumer with nothing pending has handled all the stream
 * holds of its subject, whatever its own floor says (it only moves when it acknowledges).
 */
export function combineFeeds(
  at: number,
  lastSeq: number,
  consumers: ReadonlyArray<{
    num_pending: number;
    num_ack_pending: number;
    ack_floor: { stream_seq: number };
  }>,
): FeedSample {
  let pending = 0;
  let ackPending = 0;
  let ackFloor = lastSeq;
  for (const c of consumers) {
    pending += c.num_pending;
    ackPending += c.num_ack_pending;
    if (c.num_pending > 0 || c.num_ack_pending > 0) ackFloor = Math.min(ackFloor, c.ack_floor.stream_seq);
  }
  return { at, pending, ackPending, ackFloor, lastSeq };
}

/**
 * Guarantees: `observe` returns an instant T such that every message stored in the stream before T
 * has been handled, or undefined until one is known; T never decreases. Works under constant
 * traffic: when the feed is never idle at a sample, it waits for the acknowledgment floor to pass
 * the sequence the stream had at an earlier sample.
 *
 * After an interruption (the meter starting, or the feed unreachable), producers may still hold
 * events they could not publish: samples taken less than `settleMs` after it do not advance T.
 */
export class FeedWatermark {
  private mark: number | undefined;
  private probe: { at: number; seq: number } | undefined;
  private settledAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly settleMs = 0) {}

  /** The feed could not be read at `at` (or the meter started then). */
  interrupted(at: number): void {
    this.settledAt = Math.max(this.settledAt, at + this.settleMs);
    this.probe = undefined;
  }

  observe(s: FeedSample): number | undefined {
    if (s.at < this.settledAt) return this.mark;
    if (s.pending === 0 && s.ackPending === 0) {
      this.advance(s.at);
      this.probe = undefined;
    } else {
      if (this.probe && s.ackFloor >= this.probe.seq) {
        this.advance(this.probe.at);
        this.probe = undefined;
      }
      this.probe ??= { at: s.at, seq: s.lastSeq };
    }
    return this.mark;
  }

  get current(): number | undefined {
    return this.mark;
  }

  private advance(at: number): void {
    this.mark = this.mark === undefined ? at : Math.max(this.mark, at);
  }
}
