#!/usr/bin/env node
// JetStream publish cost: the NATS library's `js.publish` (a request per message) against
// JetStreamPublisher (libs/messaging: core publishes, one inbox subscription, one sweeper), side by
// side on the same stream, interleaved rounds, pipelined in batches of 250 as the outbox relay sends.
// Prints messages/s, client CPU per message and nats-server CPU per message, and the ratios.
//   npm run build && node bench/js-publish.mjs [messages=20000] [rounds=3]
import { randomBytes } from 'node:crypto';

import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';

import { JetStreamPublisher } from '../libs/messaging/dist/js-publisher.js';
import { commCpu } from './lib.mjs';

const [N = 20_000, ROUNDS = 3] = process.argv.slice(2).map(Number);
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const nc = await connect({ servers: NATS_URL, noAsyncTraces: true });
const jsm = await jetstreamManager(nc);
const id = randomBytes(4).toString('hex');
const stream = `BENCH_JSPUB_${id}`;
const subject = `bench_jspub_${id}.x`;
await jsm.streams.add({ name: stream, subjects: [subject], duplicate_window: 120e9 });
const js = jetstream(nc);
const lean = new JetStreamPublisher(nc);
const payload = JSON.stringify({ id: 'x', message: 'y'.repeat(600) });
let seq = 0;
const ways = {
  'library js.publish': (msgId) => js.publish(subject, payload, { msgID: msgId }),
  JetStreamPublisher: (msgId) => {
    const h = headers();
    h.set('Nats-Msg-Id', msgId);
    return lean.publish(subject, payload, h);
  },
};

async function measure(send) {
  const nats0 = commCpu('nats-server');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i += 250)
    await Promise.all(Array.from({ length: Math.min(250, N - i) }, () => send(`m${seq++}`)));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    perSecond: N / wall,
    clientUs: (cpu.user + cpu.system) / N,
    natsUs: ((commCpu('nats-server') - nats0) * 1e6) / N,
  };
}

try {
  const totals = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (const send of Object.values(ways)) await measure(send); // warm-up
  for (let r = 0; r < ROUNDS; r++)
    for (const [k, send] of Object.entries(ways)) totals[k].push(await measure(send));
  const mean = (xs, f) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  console.log(
    `JetStream publish, ${N} messages of ${payload.length} B × ${ROUNDS} interleaved rounds, batches of 250, node ${process.version}`,
  );
  console.log(
    `${'way'.padEnd(22)}${'messages/s'.padEnd(14)}${'client CPU µs/msg'.padEnd(20)}nats-server CPU µs/msg`,
  );
  const rows = Object.entries(totals).map(([k, xs]) => ({
    k,
    perSecond: mean(xs, (x) => x.perSecond),
    clientUs: mean(xs, (x) => x.clientUs),
    natsUs: mean(xs, (x) => x.natsUs),
  }));
  for (const r of rows)
    console.log(
      `${r.k.padEnd(22)}${r.perSecond.toFixed(0).padEnd(14)}${r.clientUs.toFixed(1).padEnd(20)}${r.natsUs.toFixed(1)}`,
    );
  const [lib, mine] = rows;
  console.log(
    `ratio JetStreamPublisher / library: ${(mine.perSecond / lib.perSecond).toFixed(2)}× messages/s, ${(mine.clientUs / lib.clientUs).toFixed(2)}× client CPU per message`,
  );
} finally {
  await jsm.streams.delete(stream);
  await nc.close();
}
