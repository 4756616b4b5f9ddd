import { durableName, EVENTS, wireStream } from '@gantry/contracts';
import type { MessageBus } from '@gantry/messaging';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';

import { combineFeeds, type FeedSample } from './model/watermark.js';

/** The subjects billing reads statuses from: both in the APPS stream. */
const STATUS_SUBJECTS = ['app.status.v2', 'app.status.v1'] as const;

/**
 * Reads how far the meter's durable consumers of statuses (`app.status.v2`, and `app.status.v1`
 * while it is still consumed) have got in the APPS stream: the adapter between JetStream's consumer
 * info and `FeedWatermark`, which sees them as one feed.
 */
export class StatusFeed {
  private jsm: Promise<JetStreamManager> | undefined;

  constructor(
    private readonly bus: MessageBus,
    private readonly service: string,
  ) {}

  /** A sample taken at `now()`; the stream and consumer figures are read after it. */
  async sample(now: () => number): Promise<FeedSample> {
    const at = now();
    this.jsm ??= jetstreamManager(this.bus.nc);
    const jsm = await this.jsm;
    const stream = wireStream(this.bus.namespace, EVENTS['app.status.v2'].stream);
    const info = await jsm.streams.info(stream);
    const consumers = await Promise.all(
      STATUS_SUBJECTS.map((s) => jsm.consumers.info(stream, durableName(this.service, s))),
    );
    return combineFeeds(at, info.state.last_seq, consumers);
  }
}
