import type { NodeAssignments } from '@gantry/contracts';
import { createTestDatabase, createTestNamespace, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { appSpec, desiredState, GiB, heartbeat } from './__fixtures__/fleet.js';
import { startScheduler } from './bootstrap.js';
import { type SchedulerConfig, SchedulerConfigSchema } from './config.js';

const spec = appSpec({ name: 'ha', image: 'img:1', memory: GiB });

describe('one active scheduler at a time', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let config: SchedulerConfig;
  const running: Array<Awaited<ReturnType<typeof startScheduler>>> = [];
  const lost: string[] = [];
  let beat: NodeJS.Timeout;

  const start = async (name: string) => {
    const s = await startScheduler({ ...config, HTTP_PORT: 0 }, { onLostLease: () => lost.push(name) });
    running.push(s);
    return s;
  };
  const ready = async (s: Awaited<ReturnType<typeof startScheduler>>) =>
    (await fetch(`${await s.app.getUrl()}/readyz`)).status;
  const desire = (appId: string) => ns.bus.publish('app.desired.v1', desiredState(appId, spec));
  const replicasOf = async (appId: string) => {
    // These replicas are small: they travel inline in the list (see indexEntry).
    const a = (await (await ns.bus.kv('assignments')).get('n1')) as NodeAssignments | null;
    return (a?.replicas ?? []).filter((r) => r.appId === appId);
  };

  beforeAll(async () => {
    db = await createTestDatabase('ha');
    ns = await createTestNamespace('ha');
    config = SchedulerConfigSchema.parse({
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      LOG_LEVEL: 'error',
      RESYNC_INTERVAL_MS: '1000',
    });
    const hb = () => ns.bus.signal('node.heartbeat.v1', heartbeat('n1', { cpus: 16, memory: 64 * GiB }));
    hb();
    beat = setInterval(hb, 200);
  });

  afterAll(async () => {
    clearInterval(beat);
    for (const s of running) await s.app.close().catch(() => undefined);
    await ns?.destroy();
    await db?.drop();
  });

  it('lets one lead while the other stands by, and the standby takes over on shutdown without double placement', async () => {
    const a = await start('a');
    await waitFor('a to lead', () => a.lease.isHeld);
    const b = await start('b');
    await new Promise((r) => setTimeout(r, 800));
    expect(b.lease.isHeld).toBe(false);
    expect(await ready(b)).toBe(503);
    expect(await ready(a)).toBe(200);

    await desire('app-1');
    await waitFor('app-1 placed', async () => ((await replicasOf('app-1')).length === 1 ? true : undefined));

    const t0 = Date.now();
    await a.app.close();
    await waitFor('b to lead', () => b.lease.isHeld, { timeoutMs: 5000 });
    const takeover = Date.now() - t0;
    await desire('app-2');
    await waitFor('app-2 placed by b', async () =>
      (await replicasOf('app-2')).length === 1 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1500)); // a resync or two by the new leader
    expect(await replicasOf('app-1')).toHaveLength(1);
    expect(await replicasOf('app-2')).toHaveLength(1);
    expect(takeover).toBeLessThan(3000);
  });

  it('hands over when the leader dies without a goodbye (its database session is killed)', async () => {
    const b = running.find((s) => s.lease.isHeld);
    expect(b).toBeDefined();
    const c = await start('c');
    await new Promise((r) => setTimeout(r, 500));
    expect(c.lease.isHeld).toBe(false);
    // What a kill -9 looks like to PostgreSQL: the session holding the lock goes away.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(
      `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND a.datname = current_database() AND l.granted`,
    );
    await admin.end();
    await waitFor('c to lead', () => c.lease.isHeld, { timeoutMs: 5000 });
    expect(lost).toContain('b');
    await desire('app-3');
    await waitFor('app-3 placed by c', async () =>
      (await replicasOf('app-3')).length === 1 ? true : undefined,
    );
  });

  it('never writes over assignments another scheduler wrote meanwhile: its pass fails and is redone from the database', async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    // What a leader that has not yet noticed it lost the lease could leave behind.
    const { rows } = await admin.query<{ generation: number }>(
      `UPDATE scheduler.nodes SET generation = generation + 10 WHERE id = 'n1' RETURNING generation`,
    );
    await admin.end();
    const written = rows[0]?.generation ?? 0;
    expect(written).toBeGreaterThan(10);
    await desire('app-4');
    const list = await waitFor('app-4 placed under a generation above the foreign one', async () => {
      const a = (await (await ns.bus.kv('assignments')).get('n1')) as NodeAssignments | null;
      return a?.replicas.some((r) => r.appId === 'app-4') ? a : undefined;
    });
    expect(list.generation).toBe(written + 1);
    expect(list.replicas.map((r) => r.appId)).toEqual(expect.arrayContaining(['app-3', 'app-4']));
  });
});
