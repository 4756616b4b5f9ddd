import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';

import { JetStreamPublisher } from './js-publisher.js';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

describe('JetStreamPublisher on the real NATS server', () => {
  const id = randomBytes(4).toString('hex');
  const stream = `JSPUB_${id}`;
  const subject = `jspub_${id}.in`;
  let nc: NatsConnection;
  let pub: JetStreamPublisher;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`jspub_${id}.in`], duplicate_window: 60e9 });
    pub = new JetStreamPublisher(nc, 300);
  });

  afterAll(async () => {
    await (await jetstreamManager(nc)).streams.delete(stream);
    await nc.close();
  });

  it('resolves with the stream and sequence once the message is stored, in order', async () => {
    const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => pub.publish(subject, `{"n":${i}}`)));
    expect(acks.map((a) => a.stream)).toEqual(Array(100).fill(stream));
    const first = acks[0]?.seq ?? NaN;
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 100 }, (_, i) => first + i));
    const jsm = await jetstreamManager(nc);
    const last = await jsm.streams.getMessage(stream, { seq: first + 99 });
    expect(last?.json()).toEqual({ n: 99 });
    expect(pub.inFlight).toBe(0);
  });

  it('is idempotent with a message id: the second publish is acked as a duplicate, not stored', async () => {
    const h = () => {
      const x = headers();
      x.set('Nats-Msg-Id', `dup-${id}`);
      return x;
    };
    const first = await pub.publish(subject, '{"once":true}', h());
    const second = await pub.publish(subject, '{"once":true}', h());
    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ stream, seq: first.seq, duplicate: true });
  });

  it('rejects with the stream error when JetStream refuses the message', async () => {
    const h = headers();
    h.set('Nats-Expected-Stream', 'SOME_OTHER_STREAM');
    await expect(pub.publish(subject, '{}', h)).rejects.toThrow(
      /JetStream refused a message on .*expected stream/i,
    );
  });

  it('rejects at once when no stream takes the subject', async () => {
    await expect(pub.publish(`jspub_${id}.nowhere`, '{}')).rejects.toThrow(/no stream takes subject/);
  });

  it('rejects when nothing acks in time (a plain subscriber that never answers)', async () => {
    const silent = nc.subscribe(`jspub_${id}.silent`);
    try {
      const started = Date.now();
      await expect(pub.publish(`jspub_${id}.silent`, '{}')).rejects.toThrow(
        /no JetStream ack .* within 300 ms/,
      );
      expect(Date.now() - started).toBeLessThan(2000);
      expect(pub.inFlight).toBe(0);
    } finally {
      silent.unsubscribe();
    }
  });

  it('fails what waits, and refuses new publishes, once its connection is closed', async () => {
    const other = await connect({ servers: NATS_URL });
    const p = new JetStreamPublisher(other, 10_000);
    const silent = other.subscribe(`jspub_${id}.held`);
    const waiting = p.publish(`jspub_${id}.held`, '{}');
    await other.flush();
    silent.unsubscribe();
    await other.close();
    await expect(waiting).rejects.toThrow(/connection is closed/);
    await expect(p.publish(subject, '{}')).rejects.toThrow(/connection is closed/);
  });
});
