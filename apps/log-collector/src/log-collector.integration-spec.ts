import { type DeadLetter, wireStream, wireSubject } from '@gantry/contracts';
import { createDataSource, prepareDatabase, schemaDrift } from '@gantry/database';
import { runService } from '@gantry/runtime';
import { createTestDatabase, createTestNamespace, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import type { INestApplication } from '@nestjs/common';

import { LogCollectorModule, SERVICE } from './app.module.js';
import { LogCollectorConfigSchema } from './config.js';
import { AppEventRow, LogBatchRow, LogLineRow } from './log.entities.js';
import { Init1763900000000 } from './migrations/1763900000000-init.js';
import { AppEventOrder1764100000000 } from './migrations/1764100000000-app-event-order.js';

describe('log-collector on real PostgreSQL and NATS', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase('logs');
    ns = await createTestNamespace('logs');
    const config = LogCollectorConfigSchema.parse({
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
    });
    app = await runService({
      name: SERVICE,
      module: LogCollectorModule.forRoot(config),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
      messaging: { service: SERVICE, natsUrl: ns.natsUrl, namespace: ns.namespace },
    });
  });

  afterAll(async () => {
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  it('has migrations that match its entities', async () => {
    const ds = createDataSource({
      url: db.url,
      schema: 'logs',
      entities: [LogLineRow, LogBatchRow, AppEventRow],
      migrations: [Init1763900000000, AppEventOrder1764100000000],
    });
    await prepareDatabase(ds);
    expect(await schemaDrift(ds)).toEqual([]);
    await ds.destroy();
  });

  it('stores each batch once and serves the tail, oldest first', async () => {
    const batch = {
      id: 'batch-1',
      nodeId: 'node-1',
      appId: 'app-1',
      replicaId: 'r1',
      lines: [
        { ts: '2026-11-23T09:00:00.1Z', stream: 'stdout' as const, line: 'first' },
        { ts: '2026-11-23T09:00:00.123456789Z', stream: 'stderr' as const, line: 'second' },
        { ts: '2026-11-23 at nine o clock', stream: 'stdout' as const, line: 'dropped' },
        { ts: '2026-11-23T09:00:01Z', stream: 'stdout' as const, line: 'third\u0000' },
      ],
    };
    await ns.bus.publish('logs.batch.v1', batch);
    // The same batch again under another message id: JetStream cannot dedupe it, the collector must.
    await ns.bus.publish('logs.batch.v1', batch, 'redelivered-batch-1');
    await ns.bus.publish('logs.batch.v1', {
      id: 'batch-2',
      nodeId: 'node-1',
      appId: 'app-1',
      replicaId: 'r2',
      lines: [{ ts: '2026-11-23T09:00:02Z', stream: 'stdout', line: 'from r2' }],
    });
    const all = await waitFor('all lines', async () => {
      const r = await ns.bus.request('query.logs.v1', { appId: 'app-1' });
      return r.logs.length >= 4 ? r : undefined;
    });
    expect(all.logs.map((l) => l.content)).toEqual(['first', 'second', 'third', 'from r2']);
    expect(all.logs[1]).toEqual({
      timestamp: '2026-11-23T09:00:00.123456789Z',
      replica: 'r1',
      stream: 'stderr',
      content: 'second',
    });
    expect(all.lastActivity).toBe('2026-11-23T09:00:02.000Z');
    const tail = await ns.bus.request('query.logs.v1', { appId: 'app-1', tail: 2 });
    expect(tail.logs.map((l) => l.content)).toEqual(['third', 'from r2']);
    const r1 = await ns.bus.request('query.logs.v1', { appId: 'app-1', replica: 'r1', tail: 1 });
    expect(r1.logs.map((l) => l.content)).toEqual(['third']);
    const none = await ns.bus.request('query.logs.v1', { appId: 'nobody' });
    expect(none).toEqual({ logs: [] });
  });

  it('keeps an app event log', async () => {
    const base = {
      appId: 'app-2',
      projectId: 'p',
      source: 'scheduler' as const,
      type: 'STATE_CHANGED' as const,
    };
    const ev = (id: string, at: string, reason: 'APP_QUEUED' | 'APP_RUNNING', message: string) => ({
      ...base,
      id,
      at,
      reason,
      message,
    });
    // Two messages; the second repeats the first event (a redelivery of an event in another batch).
    await ns.bus.publish('app.event.v2', {
      id: 'batch-1',
      events: [ev('ev-1', '2026-11-23T09:00:00Z', 'APP_QUEUED', 'queued')],
    });
    await ns.bus.publish('app.event.v2', {
      id: 'batch-2',
      events: [
        ev('ev-1', '2026-11-23T09:00:00Z', 'APP_QUEUED', 'queued'),
        ev('ev-2', '2026-11-23T09:00:01Z', 'APP_RUNNING', 'running'),
      ],
    });
    // One from a producer before `app.event.v2`, alone on `app.event.v1`.
    await ns.bus.publish('app.event.v1', ev('ev-3', '2026-11-23T09:00:02Z', 'APP_RUNNING', 'still running'));
    const events = await waitFor('three events', async () => {
      const r = await ns.bus.request('query.events.v1', { appId: 'app-2' });
      return r.events.length >= 3 ? r.events : undefined;
    });
    expect(events.map((e) => e.id)).toEqual(['ev-1', 'ev-2', 'ev-3']);

    // An event that breaks the contract (a newer producer, say) is dead-lettered alone; the rest of
    // its message is recorded.
    await ns.bus.publish('app.event.v2', {
      id: 'batch-mixed',
      events: [
        { ...ev('ev-bad', '2026-11-23T09:00:03Z', 'APP_RUNNING', 'x'), type: 'EXPLODED' },
        ev('ev-4', '2026-11-23T09:00:04Z', 'APP_RUNNING', 'after a bad one'),
      ],
    });
    await waitFor('the good event of the mixed batch', async () => {
      const r = await ns.bus.request('query.events.v1', { appId: 'app-2' });
      return r.events.some((e) => e.id === 'ev-4') ? true : undefined;
    });
    const jsm = await jetstreamManager(ns.bus.nc);
    const letter = (
      await jsm.streams.getMessage(wireStream(ns.namespace, 'DLQ'), {
        last_by_subj: wireSubject(ns.namespace, 'dlq.v1'),
      })
    )?.json<DeadLetter>();
    expect(letter).toMatchObject({ subject: 'app.event.v2', reason: expect.stringContaining('type') });
    expect(JSON.parse(letter?.data ?? '{}')).toMatchObject({ id: 'ev-bad' });
    const all = await ns.bus.request('query.events.v1', { appId: 'app-2' });
    expect(all.events.map((e) => e.id)).not.toContain('ev-bad');
    expect(events[1]).toMatchObject({
      reason: 'APP_RUNNING',
      message: 'running',
      at: '2026-11-23T09:00:01.000Z',
    });
  });

  it('returns events of the same instant in the order they were sent, whatever their ids', async () => {
    const at = '2026-11-23T10:00:00.000Z';
    const ids = ['zz', 'aa', 'mm', 'bb', 'yy'];
    await ns.bus.publish('app.event.v2', {
      id: 'batch-order',
      events: ids.map((id, i) => ({
        id: `order-${id}`,
        appId: 'app-order',
        projectId: 'p',
        source: 'scheduler' as const,
        type: 'STATE_CHANGED' as const,
        at,
        reason: 'APP_SCALING' as const,
        message: `step ${i}`,
      })),
    });
    const events = await waitFor('the batch', async () => {
      const r = await ns.bus.request('query.events.v1', { appId: 'app-order' });
      return r.events.length === ids.length ? r.events : undefined;
    });
    expect(events.map((e) => e.message)).toEqual(['step 0', 'step 1', 'step 2', 'step 3', 'step 4']);
  });

  it('is healthy and ready, with metrics', async () => {
    const url = await app.getUrl();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok' } });
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('gantry_message_handle_seconds');
  });
});
