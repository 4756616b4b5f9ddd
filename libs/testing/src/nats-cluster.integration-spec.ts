import { randomBytes } from 'node:crypto';

import {
  type AppEventBatch,
  type BucketName,
  BUCKETS,
  type StreamName,
  STREAMS,
  wireBucket,
  wireStream,
} from '@gantry/contracts';
import { destroyTopology, ensureTopology, JetStreamTransport, MessageBus, OnEvent } from '@gantry/messaging';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type JetStreamManager, jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { INestMicroservice } from '@nestjs/common';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';

import { TEST_NATS_URL } from './nats.js';
import { type NatsCluster, startNatsCluster } from './nats-cluster.js';
import { sleep, waitFor } from './wait.js';

const received = new Map<string, number>();

@Controller()
class Handlers {
  @OnEvent('app.event.v2')
  onEvent(@Payload() batch: AppEventBatch): void {
    received.set(batch.id, (received.get(batch.id) ?? 0) + 1);
  }
}

@Module({ controllers: [Handlers] })
class TestModule {}

const event = (id: string): AppEventBatch => ({
  id,
  events: [
    {
      id,
      appId: 'app1',
      projectId: 'p1',
      at: new Date().toISOString(),
      source: 'scheduler',
      type: 'STATE_CHANGED',
      reason: 'APP_RUNNING',
      message: id,
    },
  ],
});

/**
 * Publishes as the outbox relay does: a publish whose server dies before its ack fails, and is sent
 * again with the same id (JetStream's dedupe keeps one). Gives up after `timeoutMs`.
 */
async function publishUntilStored(bus: MessageBus, batch: AppEventBatch, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await bus.publish('app.event.v2', batch);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

const streamNames = (ns: string): string[] => [
  ...(Object.keys(STREAMS) as StreamName[]).map((s) => wireStream(ns, s)),
  ...(Object.keys(BUCKETS) as BucketName[]).map((b) => `KV_${wireBucket(ns, b)}`),
];

describe('messaging on a three-server NATS cluster', () => {
  const namespace = `cl_${randomBytes(4).toString('hex')}`;
  const apps = wireStream(namespace, 'APPS');
  let cluster: NatsCluster;
  let natsUrl: string;
  let bus: MessageBus;
  let jsm: JetStreamManager;
  let app: INestMicroservice | undefined;
  const publishers: MessageBus[] = [];
  /** The server the outage test killed (its index). */
  let killed = -1;

  /** Steps the leader of a stream (`STREAM`) or consumer (`STREAM.DURABLE`) down until `server` leads it. */
  const leadOn = (server: string, what: string, leader: () => Promise<string | undefined>) =>
    waitFor(
      `${server} to lead ${what}`,
      async () => {
        if ((await leader()) === server) return true;
        const api = what.includes('.') ? 'CONSUMER' : 'STREAM';
        await bus.nc.request(`$JS.API.${api}.LEADER.STEPDOWN.${what}`, undefined, { timeout: 2000 });
        return false;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );

  beforeAll(async () => {
    cluster = await startNatsCluster();
    natsUrl = cluster.urls.join(',');
    bus = await MessageBus.connect({ service: 'test', natsUrl, namespace, replicas: 3 });
    jsm = await jetstreamManager(bus.nc);
  });

  afterAll(async () => {
    await app?.close();
    for (const publisher of publishers) await publisher.close();
    await bus?.close();
    await cluster?.stop();
  });

  it('creates every stream and bucket with the configured 3 replicas', async () => {
    for (const name of streamNames(namespace)) {
      const info = await jsm.streams.info(name);
      expect({ name, replicas: info.config.num_replicas }).toEqual({ name, replicas: 3 });
      expect(info.cluster?.replicas).toHaveLength(2); // the leader and two followers
    }
  });

  it('raises a stream created with 1 replica to 3, and leaves what an operator set alone', async () => {
    const other = `cl_${randomBytes(4).toString('hex')}`;
    await ensureTopology(bus.nc, other, { replicas: 1 });
    const logs = wireStream(other, 'LOGS');
    expect((await jsm.streams.info(logs)).config.num_replicas).toBe(1);
    const week = 7 * 86_400 * 1e9;
    await jsm.streams.update(logs, { max_bytes: 1 << 20, max_age: week });
    await ensureTopology(bus.nc, other, { replicas: 3 });
    for (const name of streamNames(other)) {
      expect({ name, replicas: (await jsm.streams.info(name)).config.num_replicas }).toEqual({
        name,
        replicas: 3,
      });
    }
    const config = (await jsm.streams.info(logs)).config;
    expect(config.max_bytes).toBe(1 << 20);
    expect(config.max_age).toBe(week);
    await destroyTopology(bus.nc, other);
  });

  it('keeps publishing and consuming, losing nothing, when the server that leads and serves them dies', async () => {
    const transport = new JetStreamTransport({ service: 'test-svc', natsUrl, namespace, replicas: 3 });
    app = await NestFactory.createMicroservice(TestModule, { strategy: transport, logger: false });
    await app.listen();
    const ids = Array.from({ length: 100 }, (_, i) => `e-${i}`);
    for (const id of ids.slice(0, 30)) await publishUntilStored(bus, event(id));
    await waitFor('the first 30 events consumed', () => ids.slice(0, 30).every((id) => received.has(id)));

    // The worst single loss: one server leads the stream and the consumer, and serves both the
    // publisher's and the consumer's connections.
    const victim = transport.unwrap<NatsConnection>().info?.server_name ?? '';
    expect(cluster.names).toContain(victim);
    const publisher = await waitFor(`a publisher connected to ${victim}`, async () => {
      const candidate = await MessageBus.connect({ service: 'publisher', natsUrl, namespace, replicas: 3 });
      if (candidate.nc.info?.server_name === victim) return candidate;
      await candidate.close();
      return undefined;
    });
    publishers.push(publisher);
    const durable = 'test-svc--app_event_v2';
    await leadOn(victim, `${apps}`, async () => (await jsm.streams.info(apps)).cluster?.leader);
    await leadOn(
      victim,
      `${apps}.${durable}`,
      async () => (await jsm.consumers.info(apps, durable)).cluster?.leader,
    );
    killed = cluster.names.indexOf(victim);
    await cluster.kill(killed);

    for (const id of ids.slice(30)) await publishUntilStored(publisher, event(id));
    expect(publisher.nc.info?.server_name).not.toBe(victim);
    await waitFor('all 100 events consumed', () => ids.every((id) => received.has(id)), {
      timeoutMs: 20_000,
    });
    const info: StreamInfo = await jsm.streams.info(apps);
    expect(info.cluster?.leader).not.toBe(victim);
    expect(info.state.messages).toBe(100); // retried publishes were deduplicated, none was lost
    expect(transport.unwrap<NatsConnection>().info?.server_name).not.toBe(victim);

    // KV buckets, replicated the same way, keep taking writes.
    const kv = await bus.kv('routes');
    await kv.put('a1', {
      appId: 'a1',
      projectId: 'p1',
      version: 1,
      updatedAt: new Date().toISOString(),
      state: 'RUNNING',
      unsecureHttp: true,
      labels: {},
      httpPort: 8080,
      ports: [8080],
      endpoints: [],
    });
    expect((await kv.get('a1'))?.version).toBe(1);
  });

  it('does not downgrade replicated streams when a service starts with 1 replica', async () => {
    await ensureTopology(bus.nc, namespace, { replicas: 1 });
    await MessageBus.connect({ service: 'late', natsUrl, namespace }).then((late) => late.close());
    for (const name of streamNames(namespace)) {
      expect({ name, replicas: (await jsm.streams.info(name)).config.num_replicas }).toEqual({
        name,
        replicas: 3,
      });
    }
  });

  it('takes a restarted server back as a current replica', async () => {
    expect(killed).toBeGreaterThanOrEqual(0);
    await cluster.restart(killed);
    await waitFor(
      'every replica of the APPS stream current',
      async () => {
        const replicas = (await jsm.streams.info(apps)).cluster?.replicas ?? [];
        return replicas.length === 2 && replicas.every((r) => r.current && !r.offline);
      },
      { timeoutMs: 30_000 },
    );
  });
});

describe('replicas on a single NATS server', () => {
  it('refuses more than one, naming the setting, and creates nothing half-way', async () => {
    const namespace = `cl_${randomBytes(4).toString('hex')}`;
    const bus = await MessageBus.connect({ service: 'test', natsUrl: TEST_NATS_URL, namespace });
    const other = `cl_${randomBytes(4).toString('hex')}`;
    try {
      await expect(ensureTopology(bus.nc, other, { replicas: 3 })).rejects.toThrow(
        /stream [A-Z0-9_]+_APPS \(3 replicas, from GANTRY_NATS_REPLICAS/,
      );
      const jsm = await jetstreamManager(bus.nc);
      await expect(jsm.streams.info(wireStream(other, 'APPS'))).rejects.toThrow(/not found/);
    } finally {
      await destroyTopology(bus.nc, namespace);
      await destroyTopology(bus.nc, other);
      await bus.close();
    }
  });
});
