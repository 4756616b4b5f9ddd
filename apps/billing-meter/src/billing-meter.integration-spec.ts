import { randomUUID } from 'node:crypto';

import {
  type AppState,
  type AppStatusChanged,
  type DeadLetter,
  durableName,
  type Rate,
  STATE_INFO_CODE,
  type UsageQuery,
  type UsageRecord,
  type UsageResult,
  wireStream,
  wireSubject,
} from '@gantry/contracts';
import { createDataSource, OutboxMessage, prepareDatabase, schemaDrift } from '@gantry/database';
import { runService } from '@gantry/runtime';
import { createTestDatabase, createTestNamespace, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';

import {
  BILLING_ENTITIES,
  BILLING_MIGRATIONS,
  BILLING_SCHEMA,
  BillingMeterModule,
  SERVICE,
} from './app.module.js';
import { Clock } from './clock.js';
import { BillingMeterConfigSchema } from './config.js';
import { Ledger } from './ledger.js';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
/** Every scenario is stamped relative to T0 (a minute boundary); the meter's clock is set per scenario. */
const T0 = Date.parse('2026-11-02T08:00:00.000Z');
const GRACE_MS = 1_000;

const EUR = (flavor: string, unitPriceMicros: number): Rate => ({ flavor, unitPriceMicros, currency: 'EUR' });
const GPU_1 = EUR('ai1-1-gpu', 1_000_000); // 1 €/h per GPU (the troubleshooting example)
const V100S = EUR('ai1-1-gpu-v100s', 1_930_000); // 1.93 €/h per GPU (the autoscaling example)
const CPU = EUR('ai1-1-cpu', 30_000); // 0.03 €/h per CPU

/**
 * The meter's clock, under the test's control: it runs in real time from the instant it was last
 * set, so that the ledger's watermark can settle, while every scenario stays within one period of
 * the instant it is set to (and its answers are exact).
 */
class TestClock {
  private base = T0 - M;
  private setAt = Date.now();
  now(): number {
    return this.base + (Date.now() - this.setAt);
  }
  set(ms: number): void {
    this.base = ms;
    this.setAt = Date.now();
  }
}

describe('billing-meter on real PostgreSQL and NATS', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let sql: pg.Client;
  let app: INestApplication | undefined;
  const clock = new TestClock();
  /** Every status event published so far (for replays). */
  const published: AppStatusChanged[] = [];
  const versions = new Map<string, number>();

  const appsStream = () => wireStream(ns.namespace, 'APPS');
  const durable = durableName(SERVICE, 'app.status.v2');
  const durableV1 = durableName(SERVICE, 'app.status.v1');

  async function startMeter(): Promise<INestApplication> {
    const config = BillingMeterConfigSchema.parse({
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      HTTP_PORT: '0',
      LOG_LEVEL: 'error',
      CLOSE_INTERVAL_MS: '100',
      CLOSE_GRACE_MS: String(GRACE_MS),
      // Small batches: a backlog is caught up over several passes, several apps at a time.
      CLOSE_BATCH_APPS: '5',
      CLOSE_BATCH_PERIODS: '100',
    });
    const module = BillingMeterModule.forRoot(config);
    module.providers = (module.providers ?? []).map((p) =>
      p === Clock ? { provide: Clock, useValue: clock } : p,
    );
    return runService({
      name: SERVICE,
      module,
      port: 0,
      host: '127.0.0.1',
      logLevel: process.env['BILLING_TEST_LOG'] ?? 'fatal',
      messaging: { service: SERVICE, natsUrl: ns.natsUrl, namespace: ns.namespace },
    });
  }

  async function stopMeter(): Promise<void> {
    await app?.close();
    app = undefined;
  }

  /** A status event as the scheduler publishes it (version increasing per app). */
  function status(
    appId: string,
    projectId: string,
    at: number,
    state: AppState,
    units: number,
    rate: Rate,
    unitsPerReplica = 1,
  ): AppStatusChanged {
    const version = (versions.get(appId) ?? 0) + 1;
    versions.set(appId, version);
    const date = new Date(at).toISOString();
    return {
      id: `${appId}-v${version}`,
      appId,
      projectId,
      version,
      at: date,
      state,
      info: { code: STATE_INFO_CODE[state], message: `app is ${state.toLowerCase()}` },
      availableReplicas: state === 'RUNNING' ? units / unitsPerReplica : 0,
      allocatedUnits: units,
      history: [{ state, date }],
      lastTransitionDate: date,
      rate,
    };
  }

  /** Status events in one `app.status.v2` message, as a scheduler pass sends them. */
  async function publish(...events: AppStatusChanged[]): Promise<void> {
    await ns.bus.publish('app.status.v2', { id: randomUUID(), statuses: events });
    published.push(...events);
  }

  /** Raw bytes on the status subject, as a hostile or broken producer would send them. */
  async function publishRaw(data: Uint8Array | string, msgID: string): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    await jetstream(ns.bus.nc).publish(wireSubject(ns.namespace, 'app.status.v2'), bytes, { msgID });
  }

  const usage = (q: UsageQuery): Promise<UsageResult> => ns.bus.request('query.usage.v1', q);

  /** The raw reply to raw request bytes on the usage subject. */
  async function rawQuery(data: Uint8Array | string): Promise<unknown> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const reply = await ns.bus.nc.request(wireSubject(ns.namespace, 'query.usage.v1'), bytes, {
      timeout: 5_000,
    });
    return reply.json();
  }

  /** Apps whose ledger is not yet closed through `target` although it may have to be. */
  async function behind(target: number): Promise<number> {
    const r = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${BILLING_SCHEMA}".app_ledgers
       WHERE (last_billed OR closed_through IS NULL OR last_at > closed_through)
         AND (closed_through IS NULL OR closed_through < $1)`,
      [new Date(target)],
    );
    return r.rows[0]?.n ?? -1;
  }

  /**
   * Sets the clock to `now` and waits until the ledger has recorded everything that became final by
   * `now − grace`: a pass closed through it (so every event published before was handled) and no
   * app is left behind it. The meter's own timer does the work; `tick` only shares its passes.
   */
  async function closeThrough(now: number): Promise<void> {
    clock.set(now);
    const target = now - GRACE_MS;
    const ledger = app?.get(Ledger);
    if (!ledger) throw new Error('the meter is not running');
    await waitFor(
      `the ledger to close through ${new Date(target).toISOString()}`,
      async () => {
        const pass = await ledger.tick();
        if (pass.outcome !== 'closed' || pass.through < target) throw new Error(JSON.stringify(pass));
        const n = await behind(target);
        if (n > 0) throw new Error(`${n} apps behind`);
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );
  }

  /** Rows of the ledger, per app (or all). */
  async function ledgerRows(
    appId?: string,
  ): Promise<Array<{ runId: string; index: number; quantity: number; chargeMicros: number }>> {
    const r = await sql.query<{
      run_id: string;
      period_index: number;
      quantity: number;
      charge_micros: string;
    }>(
      `SELECT run_id, period_index, quantity, charge_micros FROM "${BILLING_SCHEMA}".usage_periods
       WHERE $1::text IS NULL OR app_id = $1 ORDER BY start_at, run_id, period_index`,
      [appId ?? null],
    );
    return r.rows.map((x) => ({
      runId: x.run_id,
      index: x.period_index,
      quantity: x.quantity,
      chargeMicros: Number(x.charge_micros),
    }));
  }

  /** Every message of `stream` (as JSON), read with an ordered consumer. */
  async function readStream<T>(stream: 'BILLING' | 'DLQ'): Promise<T[]> {
    const name = wireStream(ns.namespace, stream);
    const jsm = await jetstreamManager(ns.bus.nc);
    const count = (await jsm.streams.info(name)).state.messages;
    if (count === 0) return [];
    const consumer = await jetstream(ns.bus.nc).consumers.get(name);
    const out: T[] = [];
    const messages = await consumer.consume({ max_messages: 1_000 });
    for await (const m of messages) {
      out.push(m.json<T>());
      if (out.length >= count) break;
    }
    return out;
  }

  const usageRecords = async (): Promise<UsageRecord[]> => {
    // The outbox relay sends on its own: wait until the stream holds what the ledger recorded.
    const recorded = (await ledgerRows()).length;
    await waitFor(
      'the usage records to be published',
      async () => {
        const jsm = await jetstreamManager(ns.bus.nc);
        const n = (await jsm.streams.info(wireStream(ns.namespace, 'BILLING'))).state.messages;
        if (n < recorded) throw new Error(`${n} of ${recorded} published`);
        return true;
      },
      { timeoutMs: 10_000 },
    );
    return readStream<UsageRecord>('BILLING');
  };

  const totalOf = (r: UsageResult) => r.totals.find((t) => t.currency === 'EUR');

  beforeAll(async () => {
    db = await createTestDatabase('billing');
    ns = await createTestNamespace('billing');
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    clock.set(T0 - M);
    app = await startMeter();
  });

  afterAll(async () => {
    await stopMeter();
    await sql?.end();
    await ns?.destroy();
    await db?.drop();
  });

  it('has migrations that match its entities', async () => {
    const ds = createDataSource({
      url: db.url,
      schema: BILLING_SCHEMA,
      entities: [...BILLING_ENTITIES, OutboxMessage],
      migrations: BILLING_MIGRATIONS,
    });
    await prepareDatabase(ds);
    expect(await schemaDrift(ds)).toEqual([]);
    await ds.destroy();
  });

  describe('the reference examples, through NATS', () => {
    const fleet = Array.from({ length: 15 }, (_, i) => `fleet-${String(i + 1).padStart(2, '0')}`);

    beforeAll(async () => {
      // Stamped ahead of the meter's clock (T0 − 1 min): nothing is final until the clock moves on.
      await publish(
        // 2 GPUs at 1 €/h for 6 h; SCALING (image pull) is billed, STOPPING is not.
        status('ts-gpu', 'p-ref', T0 - 5 * M, 'QUEUED', 0, GPU_1, 2),
        status('ts-gpu', 'p-ref', T0, 'SCALING', 2, GPU_1, 2),
        status('ts-gpu', 'p-ref', T0 + 45 * S, 'RUNNING', 2, GPU_1, 2),
        status('ts-gpu', 'p-ref', T0 + 6 * H, 'STOPPING', 2, GPU_1, 2),
        status('ts-gpu', 'p-ref', T0 + 6 * H + 20 * S, 'STOPPED', 0, GPU_1, 2),
        // 1 GPU per replica, autoscaled: 5 h at 1 replica, then 1 h at 3, at 1.93 €/h.
        status('autoscale', 'p-ref', T0, 'RUNNING', 1, V100S),
        status('autoscale', 'p-ref', T0 + 5 * H, 'SCALING', 3, V100S),
        status('autoscale', 'p-ref', T0 + 5 * H + 2 * M, 'RUNNING', 3, V100S),
        status('autoscale', 'p-ref', T0 + 6 * H, 'STOPPED', 0, V100S),
        // 1 CPU for 61 s: two started minutes.
        status('cpu-61s', 'p-cpu', T0, 'RUNNING', 1, CPU),
        status('cpu-61s', 'p-cpu', T0 + 61 * S, 'STOPPED', 0, CPU),
      );
      // 15 apps × 1 CPU × 5 h at 0.03 €/h.
      for (const appId of fleet)
        await publish(
          status(appId, 'p-fleet', T0, 'RUNNING', 1, CPU),
          status(appId, 'p-fleet', T0 + 5 * H, 'STOPPED', 0, CPU),
        );
      await closeThrough(T0 + 7 * H);
    });

    it('bills 2 GPUs at 1 €/h for 6 h: 12 €', async () => {
      const r = await usage({ appId: 'ts-gpu', periods: false });
      expect(r.runs).toHaveLength(1);
      expect(r.runs[0]).toMatchObject({
        runId: `ts-gpu:${T0}`,
        projectId: 'p-ref',
        start: new Date(T0).toISOString(),
        end: new Date(T0 + 6 * H).toISOString(),
        minutes: 360,
        unitMinutes: 720,
        chargeMicros: 12_000_000,
        periods: [],
      });
      expect(r.totals).toEqual([
        { currency: 'EUR', minutes: 360, unitMinutes: 720, chargeMicros: 12_000_000 },
      ]);
    });

    it('bills 5 h at 1 replica + 1 h at 3 replicas at 1.93 €/h: 15.44 €', async () => {
      const r = await usage({ appId: 'autoscale' });
      expect(totalOf(r)).toEqual({
        currency: 'EUR',
        minutes: 360,
        unitMinutes: 480,
        chargeMicros: 15_440_000,
      });
      const quantities = r.runs[0]?.periods.map((p) => p.quantity) ?? [];
      expect(quantities.filter((q) => q === 1)).toHaveLength(300);
      expect(quantities.filter((q) => q === 3)).toHaveLength(60);
      expect(r.runs[0]?.periods.every((p) => !p.open)).toBe(true);
    });

    it('bills 1 CPU for 61 s as 2 minutes', async () => {
      const r = await usage({ appId: 'cpu-61s' });
      expect(r.runs).toHaveLength(1);
      expect(r.runs[0]?.periods).toEqual([
        {
          index: 0,
          start: new Date(T0).toISOString(),
          end: new Date(T0 + M).toISOString(),
          quantity: 1,
          chargeMicros: 500,
          open: false,
        },
        {
          index: 1,
          start: new Date(T0 + M).toISOString(),
          end: new Date(T0 + 2 * M).toISOString(),
          quantity: 1,
          chargeMicros: 500,
          open: false,
        },
      ]);
      expect(r.totals).toEqual([{ currency: 'EUR', minutes: 2, unitMinutes: 2, chargeMicros: 1_000 }]);
    });

    it('bills 15 apps × 1 CPU × 5 h at 0.03 €/h: 2.25 €', async () => {
      const r = await usage({ projectId: 'p-fleet', periods: false });
      expect(r.runs.map((x) => x.appId).sort()).toEqual(fleet);
      expect(r.totals).toEqual([
        { currency: 'EUR', minutes: 4_500, unitMinutes: 4_500, chargeMicros: 2_250_000 },
      ]);
    });

    it('records every closed period in the ledger, as the queries compute it', async () => {
      const rows = await ledgerRows('autoscale');
      expect(rows).toHaveLength(360);
      const answer = await usage({ appId: 'autoscale' });
      expect(rows.map((x) => [x.index, x.quantity, x.chargeMicros])).toEqual(
        answer.runs[0]?.periods.map((p) => [p.index, p.quantity, p.chargeMicros]),
      );
      expect(await ledgerRows('cpu-61s')).toEqual([
        { runId: `cpu-61s:${T0}`, index: 0, quantity: 1, chargeMicros: 500 },
        { runId: `cpu-61s:${T0}`, index: 1, quantity: 1, chargeMicros: 500 },
      ]);
      expect(await ledgerRows()).toHaveLength(360 + 360 + 2 + 15 * 300);
    });

    it('accrues nothing more for a STOPPED app as time goes by', async () => {
      const before = await usage({ projectId: 'p-ref', periods: false });
      const rows = (await ledgerRows()).length;
      await closeThrough(T0 + 7 * H + 30 * M);
      const after = await usage({ projectId: 'p-ref', periods: false });
      expect(after.totals).toEqual(before.totals);
      expect(after.totals).toEqual([
        { currency: 'EUR', minutes: 720, unitMinutes: 1_200, chargeMicros: 27_440_000 },
      ]);
      expect(after.asOf >= new Date(T0 + 7 * H + 30 * M).toISOString()).toBe(true);
      expect(await ledgerRows()).toHaveLength(rows);
    });

    it('publishes one billing.usage.v1 record per closed period, each once', async () => {
      const records = await usageRecords();
      const ids = records.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      const rows = await ledgerRows();
      expect(ids.sort()).toEqual(rows.map((r) => `${r.runId}:${r.index}`).sort());
      const ts = records.filter((r) => r.appId === 'ts-gpu');
      expect(ts).toHaveLength(360);
      expect(ts.find((r) => r.periodIndex === 359)).toEqual({
        id: `ts-gpu:${T0}:359`,
        projectId: 'p-ref',
        appId: 'ts-gpu',
        runId: `ts-gpu:${T0}`,
        periodIndex: 359,
        start: new Date(T0 + 359 * M).toISOString(),
        end: new Date(T0 + 360 * M).toISOString(),
        quantity: 2,
        flavor: 'ai1-1-gpu',
        unitPriceMicros: 1_000_000,
        currency: 'EUR',
      });
      const unitMinutes = (appId: string) =>
        records.filter((r) => r.appId === appId).reduce((n, r) => n + r.quantity, 0);
      expect(unitMinutes('ts-gpu') * 1_000_000).toBe(12_000_000 * 60);
      expect(unitMinutes('autoscale') * 1_930_000).toBe(15_440_000 * 60);
      expect(unitMinutes('cpu-61s')).toBe(2);
    });
  });

  describe('exactly once', () => {
    const projectTotals = async () => {
      const out: Record<string, unknown> = {};
      for (const projectId of ['p-ref', 'p-cpu', 'p-fleet', 'p-mid'])
        out[projectId] = (await usage({ projectId, periods: false })).totals;
      return out;
    };

    it('changes no total when the same events come again', async () => {
      const before = await projectTotals();
      const rows = await ledgerRows();
      const records = (await usageRecords()).length;
      // Same message ids: JetStream drops them. Other message ids: the meter sees every one again,
      // in batches (several of one app, out of order) and one by one on `app.status.v1`, as a
      // scheduler from before the upgrade sent them.
      for (const e of published.slice(0, 11)) await ns.bus.publish('app.status.v1', e);
      for (const e of published) await ns.bus.publish('app.status.v1', e, `again-${e.id}`);
      await publish(...[...published].reverse());
      // The same event id with other content: the first one stored is kept.
      const autoscaleStart = published.find((e) => e.id === 'autoscale-v1');
      if (!autoscaleStart) throw new Error('autoscale-v1 was not published');
      await ns.bus.publish(
        'app.status.v1',
        { ...autoscaleStart, allocatedUnits: 99 },
        'conflicting-autoscale-v1',
      );
      await publish({ ...autoscaleStart, allocatedUnits: 98 });
      await closeThrough(T0 + 7 * H + 40 * M);
      expect(await projectTotals()).toEqual(before);
      expect(await ledgerRows()).toEqual(rows);
      expect(await usageRecords()).toHaveLength(records);
    });

    it('keeps accruing a running app across a restart with a full replay, recording each period once', async () => {
      const T1 = T0 + 8 * H;
      await publish(status('mid-run', 'p-mid', T1, 'RUNNING', 1, GPU_1));
      await closeThrough(T1 + 30 * M);
      let r = await usage({ appId: 'mid-run', periods: false });
      // Periods 0–30, the last one open: 31 unit-minutes at 1 €/h.
      expect(r.runs[0]).toMatchObject({ minutes: 31, unitMinutes: 31, chargeMicros: 516_667 });
      expect(r.runs[0]?.end).toBeUndefined();
      // Periods 0–28 are final (period 29 ends after the grace-delayed closing instant).
      expect(await ledgerRows('mid-run')).toHaveLength(29);
      const totals = await projectTotals();
      const others = (await ledgerRows()).filter((x) => !x.runId.startsWith('mid-run:'));

      await stopMeter();
      // While the meter is away the app scales up, and its durable consumer is lost: the new meter
      // reads the whole stream again.
      await publish(
        status('mid-run', 'p-mid', T1 + 40 * M, 'SCALING', 2, GPU_1),
        status('mid-run', 'p-mid', T1 + 41 * M, 'RUNNING', 2, GPU_1),
      );
      const jsm = await jetstreamManager(ns.bus.nc);
      for (const d of [durable, durableV1]) await jsm.consumers.delete(appsStream(), d);
      clock.set(T1 + 50 * M);
      app = await startMeter();
      await closeThrough(T1 + 60 * M);

      r = await usage({ appId: 'mid-run', periods: false });
      // 40 periods at 1, 21 at 2 (the last one, period 60, open).
      expect(r.runs[0]).toMatchObject({ minutes: 61, unitMinutes: 82, chargeMicros: 1_366_667 });
      // The new meter went on from where the old one stopped: periods 29–58 are recorded now.
      const mid = await ledgerRows('mid-run');
      expect(mid.map((x) => x.index)).toEqual(Array.from({ length: 59 }, (_, i) => i));
      expect(mid.filter((x) => x.quantity === 2).map((x) => x.index)).toEqual(
        Array.from({ length: 19 }, (_, i) => 40 + i),
      );
      // Nothing else moved: the replayed events changed no total and recorded nothing twice.
      expect((await ledgerRows()).filter((x) => !x.runId.startsWith('mid-run:'))).toEqual(others);
      const now = await projectTotals();
      expect({ ...now, 'p-mid': undefined }).toEqual({ ...totals, 'p-mid': undefined });

      await publish(status('mid-run', 'p-mid', T1 + 90 * M + 30 * S, 'STOPPED', 0, GPU_1));
      await closeThrough(T1 + 2 * H);
      r = await usage({ appId: 'mid-run', periods: false });
      // Periods 0–90: 40 at 1 GPU and 51 at 2.
      expect(r.totals).toEqual([{ currency: 'EUR', minutes: 91, unitMinutes: 142, chargeMicros: 2_366_667 }]);
      expect((await ledgerRows('mid-run')).map((x) => x.index)).toEqual(
        Array.from({ length: 91 }, (_, i) => i),
      );
    });

    it('changes no total when restarted again, and publishes each record once', async () => {
      const before = await projectTotals();
      const rows = await ledgerRows();
      await stopMeter();
      app = await startMeter();
      await closeThrough(T0 + 10 * H);
      expect(await projectTotals()).toEqual(before);
      expect(await ledgerRows()).toEqual(rows);
      const records = await usageRecords();
      expect(records.map((x) => x.id).sort()).toEqual(rows.map((x) => `${x.runId}:${x.index}`).sort());
    });
  });

  describe('query filters', () => {
    const iso = (ms: number) => new Date(ms).toISOString();

    it('selects by app and project', async () => {
      const ref = await usage({ projectId: 'p-ref', periods: false });
      // Sorted by start, then run id.
      expect(ref.runs.map((r) => r.appId)).toEqual(['autoscale', 'ts-gpu']);
      expect(totalOf(ref)?.chargeMicros).toBe(27_440_000);
      expect(await usage({ projectId: 'p-ref', appId: 'cpu-61s' })).toMatchObject({ runs: [], totals: [] });
      expect((await usage({ projectId: 'p-cpu', appId: 'cpu-61s' })).runs).toHaveLength(1);
      expect(await usage({ appId: 'nobody' })).toMatchObject({ runs: [], totals: [] });
      expect(await usage({ projectId: 'p-nobody' })).toMatchObject({ runs: [], totals: [] });
      const all = await usage({ periods: false });
      const rows = await ledgerRows();
      expect(all.runs.map((r) => r.runId).sort()).toEqual([...new Set(rows.map((r) => r.runId))].sort());
      expect(totalOf(all)?.unitMinutes).toBe(rows.reduce((n, r) => n + r.quantity, 0));
    });

    it('selects the periods overlapping [from, to)', async () => {
      const lastHour = await usage({ appId: 'autoscale', from: iso(T0 + 5 * H), to: iso(T0 + 6 * H) });
      expect(lastHour.runs[0]?.periods.map((p) => p.index)).toEqual(
        Array.from({ length: 60 }, (_, i) => 300 + i),
      );
      expect(lastHour.totals).toEqual([
        { currency: 'EUR', minutes: 60, unitMinutes: 180, chargeMicros: 5_790_000 },
      ]);
      const firstHours = await usage({ appId: 'autoscale', to: iso(T0 + 5 * H), periods: false });
      expect(firstHours.totals).toEqual([
        { currency: 'EUR', minutes: 300, unitMinutes: 300, chargeMicros: 9_650_000 },
      ]);
      // A period overlapping either bound is in: [5 h 30 s, 5 h 1 min 30 s) touches periods 300 and 301.
      const partial = await usage({
        appId: 'autoscale',
        from: iso(T0 + 5 * H + 30 * S),
        to: iso(T0 + 5 * H + 90 * S),
      });
      expect(partial.runs[0]?.periods.map((p) => [p.index, p.quantity])).toEqual([
        [300, 3],
        [301, 3],
      ]);
      const second = await usage({ appId: 'cpu-61s', from: iso(T0 + M), to: iso(T0 + 61 * S) });
      expect(second.totals).toEqual([{ currency: 'EUR', minutes: 1, unitMinutes: 1, chargeMicros: 500 }]);
      // The fleet stopped at exactly 5 h: nothing of it overlaps [5 h, 6 h).
      expect(await usage({ projectId: 'p-fleet', from: iso(T0 + 5 * H), to: iso(T0 + 6 * H) })).toMatchObject(
        {
          runs: [],
          totals: [],
        },
      );
      // Ledger and query agree on every window.
      const rows = (await ledgerRows('ts-gpu')).filter((r) => r.index >= 120 && r.index < 180);
      const window = await usage({ appId: 'ts-gpu', from: iso(T0 + 2 * H), to: iso(T0 + 3 * H) });
      expect(window.runs[0]?.periods.map((p) => [p.index, p.quantity, p.chargeMicros])).toEqual(
        rows.map((r) => [r.index, r.quantity, r.chargeMicros]),
      );
      const withPeriods = await usage({ projectId: 'p-ref', from: iso(T0), to: iso(T0 + 6 * H) });
      const without = await usage({ projectId: 'p-ref', from: iso(T0), to: iso(T0 + 6 * H), periods: false });
      expect(without.totals).toEqual(withPeriods.totals);
      expect(without.runs.every((r) => r.periods.length === 0)).toBe(true);
    });
  });

  describe('hostile input', () => {
    const T2 = T0 + 11 * H;

    it('dead-letters status payloads it cannot bill, and keeps metering', async () => {
      clock.set(T2 - M);
      const valid = status('hostile', 'p-hostile', T2, 'RUNNING', 1, CPU);
      const batch = (...statuses: unknown[]) => JSON.stringify({ id: randomUUID(), statuses });
      // Whole messages its contract refuses: dead-lettered as they came.
      const invalid: Array<[string, Uint8Array | string]> = [
        ['garbage', new Uint8Array([0xff, 0xfe, 0x00, 0x13, 0x37])],
        ['truncated', '{"id":"x","statuses":['],
        ['not-an-event', '{"hello":"world"}'],
        ['json-null', 'null'],
        ['bare-status', JSON.stringify(valid)],
        ['empty-batch', batch()],
        ['extra-batch-field', JSON.stringify({ id: 'b-1', statuses: [valid], discount: 100 })],
      ];
      for (const [name, data] of invalid) await publishRaw(data, `hostile-${name}`);
      // Statuses that break the contract, in one message with a valid one (another app's): each is
      // dead-lettered alone, with its own data; the valid one is billed.
      const mixed = status('mixed', 'p-mixed', T2, 'RUNNING', 1, CPU);
      const broken = [
        { ...valid, id: 'h-1', state: 'EXPLODED' },
        { ...valid, id: 'h-2', allocatedUnits: -4 },
        { ...valid, id: 'h-3', discount: 100 },
      ];
      await publishRaw(batch(broken[0], mixed, ...broken.slice(1)), 'hostile-mixed');
      // Statuses valid by the contract, refused by billing's own bounds, in one message with a valid
      // one: each refused one is dead-lettered on its own, the valid one is billed.
      const refused: AppStatusChanged[] = [
        { ...valid, id: 'h-4', at: '1999-12-31T23:59:59Z' },
        // Judged against when the stream stored it (the real clock, not the test's): a month past now.
        { ...valid, id: 'h-5', at: new Date(Date.now() + 30 * 24 * H).toISOString() },
        { ...valid, id: 'h-6', allocatedUnits: 1_000_000_000 },
        { ...valid, id: 'h-7', rate: { ...CPU, currency: 'eur' } },
        { ...valid, id: 'h-8', rate: { ...CPU, flavor: '' } },
        { ...valid, id: 'h-9\u0000' },
        { ...valid, id: 'h-10', rate: { ...CPU, unitPriceMicros: 2 ** 52 } },
        { ...valid, id: 'h-11', version: 2 ** 40 },
        // An app already billed must not be touched by a refused event about it.
        { ...status('ts-gpu', 'p-ref', T2, 'RUNNING', 100_001, GPU_1), id: 'h-12' },
      ];
      await publish(...refused.slice(0, 5), valid, ...refused.slice(5));
      await publish(status('hostile', 'p-hostile', T2 + 90 * S, 'STOPPED', 0, CPU));
      clock.set(T2 + 10 * M);

      const dead = await waitFor('the dead letters', async () => {
        const letters = (await readStream<DeadLetter>('DLQ')).filter((d) => d.consumer === durable);
        if (letters.length < invalid.length + broken.length + refused.length)
          throw new Error(`${letters.length} dead letters`);
        return letters;
      });
      expect(dead).toHaveLength(invalid.length + broken.length + refused.length);
      for (const d of dead) {
        expect(d.subject).toBe('app.status.v2');
        expect(d.reason).not.toBe('');
      }
      // Each refused status is a dead letter of its own, with its own data.
      const single = dead.filter((d) => d.reason.startsWith('status event '));
      expect(single.map((d) => (JSON.parse(d.data) as AppStatusChanged).id).sort()).toEqual(
        refused.map((e) => e.id).sort(),
      );
      const contract = dead.filter((d) => d.reason.includes("breaks app.status.v2's contract"));
      expect(contract.map((d) => (JSON.parse(d.data) as AppStatusChanged).id).sort()).toEqual([
        'h-1',
        'h-2',
        'h-3',
      ]);
      expect(contract.map((d) => d.reason).join('\n')).toMatch(/state: .*allocatedUnits: .*discount/s);
      const billedMixed = await waitFor('the valid status beside broken ones', async () => {
        const answer = await usage({ appId: 'mixed', periods: false });
        return answer.runs.length === 1 ? answer : undefined;
      });
      expect(billedMixed.runs[0]).toMatchObject({ appId: 'mixed' });
      const reasons = dead.map((d) => d.reason).join('\n');
      expect(reasons).toContain('is not JSON');
      expect(reasons).toContain('is before 2000');
      expect(reasons).toContain('more than a day ahead');
      expect(reasons).toContain('allocatedUnits: 100001 exceeds 100000');
      expect(reasons).toContain('rate.currency');
      expect(reasons).toContain('NUL');
      expect(reasons).toContain('version: 1099511627776 is too large');

      // Still metering (the valid events after the hostile ones are stored), and nothing of the
      // hostile events was billed.
      const r = await waitFor('the valid events to be metered', async () => {
        const answer = await usage({ projectId: 'p-hostile' });
        if (answer.runs[0]?.end === undefined) throw new Error(JSON.stringify(answer.runs));
        return answer;
      });
      expect(r.totals).toEqual([{ currency: 'EUR', minutes: 2, unitMinutes: 2, chargeMicros: 1_000 }]);
      expect((await usage({ appId: 'ts-gpu', periods: false })).totals[0]?.chargeMicros).toBe(12_000_000);
      const url = await app?.getUrl();
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok' } });
    });

    it('answers hostile usage queries with a clear error', async () => {
      const invalid = async (data: Uint8Array | string, code: string, field?: string) => {
        const reply = (await rawQuery(data)) as { ok: boolean; error?: { error: string; message: string } };
        expect(reply.ok).toBe(false);
        expect(reply.error?.error).toBe(code);
        if (field) expect(reply.error?.message).toContain(field);
      };
      await invalid(new Uint8Array([0xc3, 0x28, 0xff]), 'INVALID_JSON');
      await invalid('', 'INVALID_JSON');
      await invalid('null', 'VALIDATION_FAILED');
      await invalid('[]', 'VALIDATION_FAILED');
      await invalid('"appId"', 'VALIDATION_FAILED');
      await invalid(JSON.stringify({ appId: 'ts-gpu', sql: 'DROP TABLE' }), 'VALIDATION_FAILED');
      await invalid(JSON.stringify({ appId: "x' OR '1'='1" }), 'VALIDATION_FAILED', 'appId');
      await invalid(JSON.stringify({ appId: 42 }), 'VALIDATION_FAILED', 'appId');
      await invalid(JSON.stringify({ from: 'yesterday' }), 'VALIDATION_FAILED', 'from');
      await invalid(JSON.stringify({ periods: 'yes' }), 'VALIDATION_FAILED', 'periods');
      const iso = (ms: number) => new Date(ms).toISOString();
      await invalid(JSON.stringify({ from: iso(T0 + 2 * H), to: iso(T0 + H) }), 'VALIDATION_FAILED', 'to');
      await invalid(
        JSON.stringify({ from: '2020-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }),
        'VALIDATION_FAILED',
        '400 days',
      );
      await invalid(JSON.stringify({ from: '0000-01-01T00:00:00Z' }), 'VALIDATION_FAILED', '400 days');
      // A window far in the future is valid, and empty.
      expect(await rawQuery(JSON.stringify({ from: '9999-12-31T23:59:59+14:00' }))).toMatchObject({
        ok: true,
        data: { runs: [], totals: [] },
      });
      expect(
        await rawQuery(JSON.stringify({ from: '0000-01-01T00:00:00Z', to: '0000-01-02T00:00:00Z' })),
      ).toMatchObject({ ok: true, data: { runs: [], totals: [] } });
      // Still answering.
      const r = await usage({ appId: 'cpu-61s', periods: false });
      expect(r.totals[0]?.chargeMicros).toBe(1_000);
    });

    it('keeps closing periods once the hostile events are dead-lettered', async () => {
      // The dead-lettered messages must not hold the ledger back: they are handled, for good. (The
      // transport terminates them with `+TERM <reason>`, which nats-server < 2.10 ignores: there they
      // stay ack-pending, the feed never looks caught up, and no period is closed any more.)
      await closeThrough(T2 + 10 * M);
      expect(await ledgerRows('hostile')).toEqual([
        { runId: `hostile:${T2}`, index: 0, quantity: 1, chargeMicros: 500 },
        { runId: `hostile:${T2}`, index: 1, quantity: 1, chargeMicros: 500 },
      ]);
    });
  });
});
