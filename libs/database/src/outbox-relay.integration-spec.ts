import { type DeadLetter, type NodeAssignments, type RouteEntry, wireSubject } from '@gantry/contracts';
import { createTestDatabase, createTestNamespace, type TestDatabase } from '@gantry/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { outboxTableSql } from './outbox.js';
import { OutboxRelay, poolRelayDb, type RelayDb, WorkerRelay } from './outbox-relay.js';

const TABLE = '"relay"."outbox"';

const route = (appId: string, version: number): RouteEntry => ({
  appId,
  projectId: 'p',
  state: 'RUNNING',
  unsecureHttp: true,
  labels: {},
  httpPort: 8080,
  ports: [8080],
  endpoints: [],
  version,
  updatedAt: new Date().toISOString(),
});

/** The relay on the machine's real PostgreSQL and NATS: order, coalescing, failures, one relay at a time. */
describe('outbox relay', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let pool: pg.Pool;
  let relayDb: RelayDb;

  const insert = async (rows: Array<{ kind: string; target: string; key?: string; payload?: unknown }>) => {
    for (const r of rows)
      await pool.query(`INSERT INTO ${TABLE} ("kind", "target", "key", "payload") VALUES ($1, $2, $3, $4)`, [
        r.kind,
        r.target,
        r.key ?? null,
        r.payload === undefined ? null : JSON.stringify(r.payload),
      ]);
  };
  const pending = async () =>
    (await pool.query<{ target: string }>(`SELECT "target" FROM ${TABLE} ORDER BY "id"`)).rows.map(
      (r) => r.target,
    );

  beforeAll(async () => {
    db = await createTestDatabase('relay');
    ns = await createTestNamespace('relay');
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    await pool.query('CREATE SCHEMA "relay"');
    for (const sql of outboxTableSql('relay')) await pool.query(sql);
    relayDb = poolRelayDb(pool);
  });

  beforeEach(async () => {
    await pool.query(`DELETE FROM ${TABLE}`);
  });

  afterAll(async () => {
    await pool?.end();
    await ns?.destroy();
    await db?.drop();
  });

  it('sends in order, a KV key written twice only with its last value, and deletes what it sent', async () => {
    await insert([
      { kind: 'kv-put', target: 'routes', key: 'a', payload: route('a', 1) },
      { kind: 'kv-put', target: 'routes', key: 'a', payload: route('a', 2) },
      { kind: 'kv-put', target: 'routes', key: 'b', payload: route('b', 1) },
      { kind: 'kv-delete', target: 'routes', key: 'b' },
    ]);
    await new OutboxRelay(relayDb, ns.bus, TABLE).flush();
    const kv = await ns.bus.kv('routes');
    expect((await kv.get('a'))?.version).toBe(2);
    expect(await kv.get('b')).toBeNull();
    expect(await pending()).toEqual([]);
  });

  it('sends a backlog larger than a batch in order, the last write of each key winning, and deletes it all', async () => {
    await pool.query(
      `INSERT INTO ${TABLE} ("kind", "target", "key", "payload")
         SELECT 'kv-put', 'routes', 'big-' || (n % 7), jsonb_build_object(
                  'appId', 'big-' || (n % 7), 'projectId', 'p', 'state', 'RUNNING', 'unsecureHttp', true,
                  'labels', '{}'::jsonb, 'httpPort', 8080, 'ports', jsonb_build_array(8080),
                  'endpoints', '[]'::jsonb, 'version', n, 'updatedAt', now())
           FROM generate_series(1, 2500) AS n`,
    );
    await new OutboxRelay(relayDb, ns.bus, TABLE).flush();
    const kv = await ns.bus.kv('routes');
    // The last write of each key wins: versions 2494..2500 are the last of the 7 keys.
    const versions = await Promise.all(
      Array.from({ length: 7 }, async (_, k) => (await kv.get(`big-${k}`))?.version),
    );
    expect(versions.sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([2494, 2495, 2496, 2497, 2498, 2499, 2500]);
    expect(await pending()).toEqual([]);
  });

  it('keeps what failed for the next try and still sends and deletes the rest', async () => {
    await insert([
      { kind: 'event', target: 'no-stream.v1', payload: { id: 'x' } },
      { kind: 'kv-put', target: 'routes', key: 'c', payload: route('c', 1) },
    ]);
    await expect(new OutboxRelay(relayDb, ns.bus, TABLE).flush()).rejects.toThrow(
      /1 outbox message\(s\) not sent, kept for the next try/,
    );
    expect((await (await ns.bus.kv('routes')).get('c'))?.version).toBe(1);
    expect(await pending()).toEqual(['no-stream.v1']);
  });

  it('dead-letters a message that can never be sent after 10 tries, with what it held', async () => {
    await insert([{ kind: 'event', target: 'nowhere.v1', payload: { id: 'lost', note: 'poison' } }]);
    const dead: DeadLetter[] = [];
    const sub = ns.bus.nc.subscribe(wireSubject(ns.namespace, 'dlq.v1'), {
      callback: (_e, m) => {
        dead.push(m.json<DeadLetter>());
      },
    });
    const relay = new OutboxRelay(relayDb, ns.bus, TABLE);
    for (let i = 1; i < 10; i++) await expect(relay.flush()).rejects.toThrow(/not sent/);
    expect(await pending()).toEqual(['nowhere.v1']);
    await relay.flush();
    expect(await pending()).toEqual([]);
    await ns.bus.nc.flush();
    sub.unsubscribe();
    expect(dead).toEqual([
      expect.objectContaining({
        subject: 'nowhere.v1',
        consumer: `outbox ${TABLE}`,
        deliveries: 10,
        data: expect.stringContaining('poison'),
        reason: expect.stringMatching(/could not be sent 10 times/),
      }),
    ]);
  });

  it('lets one relay at a time work a table: another waits while the lock is held, then sends', async () => {
    await insert([{ kind: 'kv-put', target: 'routes', key: 'd', payload: route('d', 7) }]);
    const holder = await pool.connect();
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`gantry-outbox:${TABLE}`]);
    const waiting = new OutboxRelay(relayDb, ns.bus, TABLE);
    await waiting.flush();
    expect(await pending()).toEqual(['routes']);
    await waiting.close(); // (it would try again on its own shortly)
    await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [`gantry-outbox:${TABLE}`]);
    holder.release();
    await new OutboxRelay(relayDb, ns.bus, TABLE).flush();
    expect((await (await ns.bus.kv('routes')).get('d'))?.version).toBe(7);
    expect(await pending()).toEqual([]);
  });

  it('relays from a worker thread with its own connections', async () => {
    const list: NodeAssignments = {
      nodeId: 'n1',
      generation: 3,
      updatedAt: new Date().toISOString(),
      replicas: [],
    };
    await insert([{ kind: 'kv-put', target: 'assignments', key: 'n1', payload: list }]);
    const relay = new WorkerRelay({
      databaseUrl: db.url,
      table: TABLE,
      messaging: { service: 'relay-test', natsUrl: ns.natsUrl, namespace: ns.namespace },
    });
    try {
      await relay.flush();
    } finally {
      await relay.close();
    }
    expect((await (await ns.bus.kv('assignments')).get('n1'))?.generation).toBe(3);
    expect(await pending()).toEqual([]);
  });
});
