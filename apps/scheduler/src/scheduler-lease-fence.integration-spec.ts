import { GantryError } from '@gantry/errors';
import { createTestDatabase, createTestNamespace, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { startScheduler } from './bootstrap.js';
import { type SchedulerConfig, SchedulerConfigSchema } from './config.js';
import { Changes } from './model/fleet.js';
import { Reconciler } from './reconciler.js';
import { SchedulerStore } from './store/scheduler-store.js';

describe('a pass commits only while its scheduler holds the lease', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let config: SchedulerConfig;
  const running: Array<Awaited<ReturnType<typeof startScheduler>>> = [];

  beforeAll(async () => {
    db = await createTestDatabase('fence');
    ns = await createTestNamespace('fence');
    config = SchedulerConfigSchema.parse({
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      LOG_LEVEL: 'error',
      HTTP_PORT: '0',
    });
  });

  afterAll(async () => {
    for (const s of running) await s.app.close().catch(() => undefined);
    await ns?.destroy();
    await db?.drop();
  });

  it('refuses, as retryable, the commit of a leader whose lease session is gone, even once another leads', async () => {
    const lost: string[] = [];
    const a = await startScheduler(config, { onLostLease: (why) => lost.push(why) });
    running.push(a);
    await waitFor('a to lead', () => a.lease.isHeld);
    const store = a.app.get(SchedulerStore);
    const fleet = a.app.get(Reconciler).fleet;
    // A pass that moves no generation (the generation fence has nothing to compare): a node removed.
    const pass = () => {
      const ch = new Changes();
      ch.deletedNodes.add('no-such-node');
      return store.persist(ch, fleet);
    };
    await expect(pass()).resolves.toBeUndefined();

    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [a.lease.fence?.pid]);
    await admin.end();
    await waitFor('a to notice', () => lost.length > 0, { timeoutMs: 5000 });
    const refused = await pass().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(GantryError);
    expect((refused as GantryError).retryable).toBe(true);
    expect((refused as GantryError).message).toMatch(/lease is no longer held/);

    const b = await startScheduler(config, { onLostLease: () => undefined });
    running.push(b);
    await waitFor('b to lead', () => b.lease.isHeld, { timeoutMs: 5000 });
    await expect(pass()).rejects.toThrow(/lease is no longer held/);
    const ch = new Changes();
    ch.deletedNodes.add('no-such-node');
    await expect(b.app.get(SchedulerStore).persist(ch, b.app.get(Reconciler).fleet)).resolves.toBeUndefined();
  });
});
