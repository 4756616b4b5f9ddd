import { randomBytes } from 'node:crypto';
import net from 'node:net';

import { type AppEventBatch, type DeadLetter, wireSubject } from '@gantry/contracts';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import pg from 'pg';

import { destroyTopology, MessageBus, OnEvent, PassThroughRpcFilter } from './index.js';
import { JetStreamTransport } from './transport.js';

// This suite cannot use @gantry/testing (which is built on this library), so it keeps its own helpers.
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const PG_ADMIN_URL = process.env['TEST_PG_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PostgreSQL behind a port that can go away and come back: the database down, then up again. */
class Outage {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port || 5432), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Connections cut, new ones refused. */
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    await new Promise((resolve) => server?.close(resolve));
  }
}

let pool: pg.Pool;
const attempts = new Map<string, number>();

@Controller()
class Handlers {
  /** Applies an event batch in the database, as the log collector does. */
  @OnEvent('app.event.v2')
  async onEvent(@Payload() batch: AppEventBatch): Promise<void> {
    attempts.set(batch.id, (attempts.get(batch.id) ?? 0) + 1);
    await pool.query('INSERT INTO applied (id) VALUES ($1) ON CONFLICT DO NOTHING', [batch.id]);
  }
}

@Module({ controllers: [Handlers] })
class TestModule {}

describe('a consumer whose database is down', () => {
  const namespace = `out_${randomBytes(4).toString('hex')}`;
  const database = `gantry_outage_${randomBytes(4).toString('hex')}`;
  let admin: pg.Client;
  let outage: Outage;
  let app: INestMicroservice;
  let bus: MessageBus;
  const deadLetters: DeadLetter[] = [];

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    const direct = new URL(PG_ADMIN_URL);
    direct.pathname = `/${database}`;
    const setup = new pg.Client({ connectionString: direct.toString() });
    await setup.connect();
    await setup.query('CREATE TABLE applied (id text PRIMARY KEY)');
    await setup.end();
    outage = new Outage(direct);
    await outage.up();
    const via = new URL(direct);
    via.hostname = '127.0.0.1';
    via.port = String(outage.port);
    pool = new pg.Pool({ connectionString: via.toString(), max: 2, connectionTimeoutMillis: 2000 });
    pool.on('error', () => undefined);

    bus = await MessageBus.connect({ service: 'test', natsUrl: NATS_URL, namespace });
    app = await NestFactory.createMicroservice(TestModule, {
      // Two failures that are not transient would dead-letter it.
      strategy: new JetStreamTransport({ service: 'test-svc', natsUrl: NATS_URL, namespace, maxDeliver: 2 }),
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
    await app?.close();
    await destroyTopology(bus.nc, namespace);
    await bus?.close();
    await pool?.end().catch(() => undefined);
    await outage?.down();
    await admin?.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin?.end();
  });

  it('retries the message for as long as the outage lasts, never dead-letters it, and applies it once the database is back', async () => {
    await pool.query('SELECT 1'); // a connection in the pool, which the outage cuts
    await outage.down();
    await bus.publish('app.event.v2', {
      id: 'during-outage',
      events: [
        {
          id: 'ev-1',
          appId: 'app1',
          projectId: 'p1',
          at: new Date().toISOString(),
          source: 'scheduler',
          type: 'STATE_CHANGED',
          reason: 'APP_RUNNING',
          message: 'running',
        },
      ],
    });
    // Deliveries at about 0, 1, 3 and 8 s: more than maxDeliver, all failing.
    for (
      const deadline = Date.now() + 9000;
      Date.now() < deadline && (attempts.get('during-outage') ?? 0) < 4;
    )
      await sleep(100);
    expect(attempts.get('during-outage')).toBeGreaterThan(2);
    expect(deadLetters).toEqual([]);

    await outage.up();
    const direct = new URL(PG_ADMIN_URL);
    direct.pathname = `/${database}`;
    const check = new pg.Client({ connectionString: direct.toString() });
    await check.connect();
    try {
      let rows = 0;
      for (const deadline = Date.now() + 40_000; Date.now() < deadline && rows === 0; await sleep(200))
        rows = (await check.query(`SELECT 1 FROM applied WHERE id = 'during-outage'`)).rowCount ?? 0;
      expect(rows).toBe(1);
    } finally {
      await check.end();
    }
    await sleep(500);
    expect(deadLetters).toEqual([]);
  }, 60_000);
});
