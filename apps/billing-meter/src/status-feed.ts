import { durableName, EVENTS, wireStream } from '@gantry/contracts';
import type { MessageBus } from '@gantry/messaging';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';

import type { FeedSample } from './model/watermark.js';

/**
 * Reads how far the meter's durable consumer of `app.status.v1` has got in the APPS stream: the
 * adapter between JetStream's consumer info and `FeedWatermark`.
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
    const stream = wireStream(this.bus.namespace, EVENTS['app.status.v1'].stream);
    const info = await jsm.streams.info(stream);
    const consumer = await jsm.consumers.info(stream, durableName(this.service, 'app.status.v1'));
    return {
      at,
      pending: consumer.num_pending,
      ackPending: consumer.num_ack_pending,
      ackFloor: consumer.ack_floor.stream_seq,
      lastSeq: info.state.last_seq,
    };
  }
}
