import { randomBytes } from 'node:crypto';

import {
  type AppEventBatch,
  type DeadLetter,
  type LogQueryResult,
  type NodeHeartbeat,
  wireSubject,
} from '@gantry/contracts';
import { GantryError, notFound } from '@gantry/errors';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream } from '@nats-io/jetstream';
import type { INestMicroservice } from '@nestjs/common';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';

import {
  destroyTopology,
  encodeJson,
  ensureTopology,
  MessageBus,
  MessageContext,
  OnEvent,
  OnQuery,
  OnSignal,
  PassThroughRpcFilter,
} from './index.js';
import { JetStreamTransport } from './transport.js';

const seen: AppEventBatch[] = [];
const attempts = new Map<string, number>();
const heartbeats: NodeHeartbeat[] = [];

@Controller()
class Handlers {
  @OnEvent('app.event.v2')
  async onEvent(@Payload() batch: AppEventBatch, @Ctx() ctx: MessageContext): Promise<void> {
    const n = (attempts.get(batch.id) ?? 0) + 1;
    attempts.set(batch.id, n);
    const message = (batch.events[0] as { message?: string } | undefined)?.message;
    if (message === 'flaky' && ctx.deliveries < 2) throw new Error('database briefly unavailable');
    if (message === 'poison') throw new GantryError('CONFLICT', 'this can never be applied');
    seen.push(batch);
  }

  @OnSignal('node.heartbeat.v1')
  onHeartbeat(hb: NodeHeartbeat): void {
    heartbeats.push(hb);
  }

  @OnQuery('query.logs.v1')
  logs(q: { appId: string }): LogQueryResult {
    if (q.appId === 'missing') throw notFound('app', q.appId);
    if (q.appId === 'crash') throw new Error('secret internals');
    return {
      logs: [
        { timestamp: '2026-01-01T00:00:00.000000000Z', replica: 'r1', stream: 'stdout', content: q.appId },
      ],
    };
  }
}

@Module({ controllers: [Handlers] })
class TestModule {}

// This suite cannot use @gantry/testing (which is built on this library), so it keeps its own helpers.
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** An `app.event.v2` message of one event. */
const event = (id: string, message: string): AppEventBatch => ({
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
      message,
    },
  ],
});

describe('JetStreamTransport on the real NATS server', () => {
  const namespace = `msg_${randomBytes(4).toString('hex')}`;
  let app: INestMicroservice;
  let bus: MessageBus;
  const deadLetters: DeadLetter[] = [];

  beforeAll(async () => {
    bus = await MessageBus.connect({ service: 'test', natsUrl: NATS_URL, namespace });
    await ensureTopology(bus.nc, namespace);
    app = await NestFactory.createMicroservice(TestModule, {
      strategy: new JetStreamTransport({ service: 'test-svc', natsUrl: NATS_URL, namespace, maxDeliver: 3 }),
      logger: false,
    });
    app.useGlobalFilters(new PassThroughRpcFilter());
    await app.listen();
    bus.nc.subscribe(wireSubject(namespace, 'dlq.v1'), {
      callback: (_e, m) => {
        deadLetters.push(m.json<DeadLetter>());
      },
    });
  });

  afterAll(async () => {
    await app.close();
    await destroyTopology(bus.nc, namespace);
    await bus.close();
  });

  it('delivers a valid event once, even when published twice with the same id', async () => {
    await bus.publish('app.event.v2', event('e-once', 'hello'));
    await bus.publish('app.event.v2', event('e-once', 'hello'));
    await waitFor('the event', () => seen.some((e) => e.id === 'e-once'));
    await sleep(300);
    expect(attempts.get('e-once')).toBe(1);
  });

  it('retries a handler that failed transiently, then acks', async () => {
    await bus.publish('app.event.v2', event('e-flaky', 'flaky'));
    await waitFor('the retried event', () => seen.some((e) => e.id === 'e-flaky'), 5000);
    expect(attempts.get('e-flaky')).toBe(2);
  });

  it('dead-letters a permanent failure without retrying it', async () => {
    await bus.publish('app.event.v2', event('e-poison', 'poison'));
    const dl = await waitFor('the dead letter', () => deadLetters.find((d) => d.data.includes('e-poison')));
    expect(dl.reason).toContain('this can never be applied');
    expect(dl.consumer).toBe('test-svc--app_event_v2');
    expect(attempts.get('e-poison')).toBe(1);
  });

  it('dead-letters an invalid payload and keeps consuming', async () => {
    const js = jetstream(bus.nc);
    await js.publish(wireSubject(namespace, 'app.event.v2'), encodeJson({ id: 'bad', appId: 42 }));
    await js.publish(wireSubject(namespace, 'app.event.v2'), new TextEncoder().encode('{not json'));
    await bus.publish('app.event.v2', event('e-after', 'still alive'));
    await waitFor('the event after the bad ones', () => seen.some((e) => e.id === 'e-after'));
    const bad = await waitFor('dead letters of bad payloads', () =>
      deadLetters.filter((d) => d.reason.includes('app.event.v2')).length >= 2 ? deadLetters : undefined,
    );
    expect(bad.some((d) => d.reason.includes('events'))).toBe(true);
    expect(bad.some((d) => d.reason.includes('not JSON'))).toBe(true);
  });

  it('answers queries, and carries domain errors back without leaking internals', async () => {
    const ok = await bus.request('query.logs.v1', { appId: 'abc' });
    expect(ok.logs[0]?.content).toBe('abc');
    await expect(bus.request('query.logs.v1', { appId: 'missing' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'app missing does not exist',
    });
    const internal = await bus.request('query.logs.v1', { appId: 'crash' }).catch((e: unknown) => e);
    expect(internal).toBeInstanceOf(GantryError);
    expect((internal as GantryError).code).toBe('INTERNAL');
    expect((internal as GantryError).message).not.toContain('secret');
  });

  it('reports an unserved query as UNAVAILABLE', async () => {
    await expect(bus.request('query.usage.v1', {}, 500)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('delivers signals and drops invalid ones', async () => {
    bus.nc.publish(wireSubject(namespace, 'node.heartbeat.v1'), encodeJson({ nodeId: 'x' }));
    bus.signal('node.heartbeat.v1', {
      nodeId: 'n1',
      address: '127.0.0.1',
      at: new Date().toISOString(),
      agentVersion: 'test',
      capacity: { cpus: 2, memory: 1024, gpus: [] },
      simulatedGpus: false,
      labels: {},
      appliedGeneration: 0,
      replicas: [],
    });
    await waitFor('a heartbeat', () => heartbeats.length > 0);
    expect(heartbeats.map((h) => h.nodeId)).toEqual(['n1']);
  });

  it('watches a KV bucket: current values first, then changes, validated', async () => {
    const kv = await bus.kv('routes');
    const route = (appId: string, version: number) => ({
      appId,
      projectId: 'p',
      version,
      updatedAt: new Date().toISOString(),
      state: 'RUNNING' as const,
      unsecureHttp: true,
      labels: {},
      httpPort: 8080,
      ports: [8080],
      endpoints: [],
    });
    await kv.put('a1', route('a1', 1));
    const seenRoutes = new Map<string, number | null>();
    const watch = await kv.watch((key, value) => seenRoutes.set(key, value?.version ?? null));
    await watch.ready;
    expect(seenRoutes.get('a1')).toBe(1);
    await kv.put('a1', route('a1', 2));
    await kv.delete('a1');
    await waitFor('the delete', () => seenRoutes.get('a1') === null);
    await expect(kv.put('a2', { appId: 'a2' } as never)).rejects.toThrow();
    // Keys are checked as the NATS library checks them; revisions come from the bucket's stream.
    await expect(kv.put('a.*', route('a3', 1))).rejects.toThrow(/invalid key/);
    await expect(kv.put('.a3', route('a3', 1))).rejects.toThrow(/invalid key/);
    const r1 = await kv.put('a3', route('a3', 1));
    expect(await kv.put('a3', route('a3', 2))).toBe(r1 + 1);
    expect((await kv.get('a3'))?.version).toBe(2);
    watch.stop();
  });
});
