import { type AppState, BILLED_STATES, type UsageRecord } from '@gantry/contracts';
import { Outbox, qualified } from '@gantry/database';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';

import type { StatusPoint } from '../model/usage.js';

/** What storing one status event did. */
export interface StoreOutcome {
  /** False when the event (app, id) was already stored: a redelivery or a replay. */
  readonly stored: boolean;
  /** A stored event came again with other content under the same id (kept as first stored). */
  readonly conflicting: boolean;
  /** Stamped before the instant the ledger had already closed the app through. */
  readonly late: boolean;
}

/** Where the ledger stands for one app. */
export interface LedgerCursor {
  readonly appId: string;
  /** Every period final by this instant (epoch ms) is recorded; undefined: none yet. */
  readonly closedThrough?: number;
  /** Read the app's timeline from this instant on; undefined: from its beginning. */
  readonly anchorAt?: number;
}

/** A closed period to record, with the event that announces it. */
export interface PeriodToRecord {
  readonly record: UsageRecord;
  readonly chargeMicros: bigint;
}

interface PointRow {
  event_id: string;
  app_id: string;
  project_id: string;
  version: number;
  at: Date;
  state: string;
  allocated_units: number;
  flavor: string;
  unit_price_micros: string;
  currency: string;
}

const POINT_COLUMNS =
  'event_id, app_id, project_id, version, at, state, allocated_units, flavor, unit_price_micros, currency';
const BILLED = [...BILLED_STATES];

/**
 * The billing meter's storage: the only code that touches its tables. Status events are stored
 * once per (app, event id); closed periods once per (run, period index), each with its
 * `billing.usage.v1` event written to the outbox in the same transaction.
 */
@Injectable()
export class BillingStore {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly outbox: Outbox,
  ) {}

  private table(name: string): string {
    return qualified(this.ds, name);
  }

  /**
   * Stores points of apps' timelines, each once, and keeps each app's latest point up to date: all
   * in one transaction (all or nothing). An outcome per point, in order.
   */
  async recordStatuses(
    points: ReadonlyArray<{ appId: string; point: StatusPoint }>,
  ): Promise<StoreOutcome[]> {
    if (points.length === 0) return [];
    return this.ds.transaction(async (em) => {
      const outcomes: StoreOutcome[] = [];
      for (const { appId, point } of points) outcomes.push(await this.record(em, appId, point));
      return outcomes;
    });
  }

  /** Stores a point of `appId`'s timeline once, and keeps the app's latest point up to date. */
  private async record(em: EntityManager, appId: string, p: StatusPoint): Promise<StoreOutcome> {
    const inserted = (await em.query(
      `INSERT INTO ${this.table('status_points')} (${POINT_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (app_id, event_id) DO NOTHING
       RETURNING event_id`,
      [
        p.id,
        appId,
        p.projectId,
        p.version,
        new Date(p.at),
        p.state,
        p.allocatedUnits,
        p.rate.flavor,
        String(p.rate.unitPriceMicros),
        p.rate.currency,
      ],
    )) as unknown[];
    if (inserted.length === 0) {
      const [existing] = (await em.query(
        `SELECT ${POINT_COLUMNS} FROM ${this.table('status_points')} WHERE app_id = $1 AND event_id = $2`,
        [appId, p.id],
      )) as PointRow[];
      const same = existing !== undefined && samePoint(toPoint(existing), p);
      return { stored: false, conflicting: !same, late: false };
    }
    await em.query(
      `INSERT INTO ${this.table('app_ledgers')} AS l (app_id, last_at, last_version, last_event_id, last_billed)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (app_id) DO UPDATE SET
         last_at = excluded.last_at,
         last_version = excluded.last_version,
         last_event_id = excluded.last_event_id,
         last_billed = excluded.last_billed
       WHERE (excluded.last_at, excluded.last_version, excluded.last_event_id COLLATE "C")
           > (l.last_at, l.last_version, l.last_event_id COLLATE "C")`,
      [appId, new Date(p.at), p.version, p.id, BILLED_STATES.has(p.state)],
    );
    const [ledger] = (await em.query(
      `SELECT closed_through FROM ${this.table('app_ledgers')} WHERE app_id = $1`,
      [appId],
    )) as Array<{ closed_through: Date | null }>;
    const closedThrough = ledger?.closed_through?.getTime();
    return { stored: true, conflicting: false, late: closedThrough !== undefined && p.at < closedThrough };
  }

  /**
   * The timelines of the apps matching `filter` (an app matches a project if any of its points
   * does), points stamped at or before `upTo`. With `anchorBefore`, each app's timeline starts at
   * its last unbilled instant at or before it (`lastUnbilledInstant`, in SQL), so that no older run
   * is loaded. `truncated` when more than `limit` points match (then nothing is returned).
   */
  async timelines(
    filter: { projectId?: string; appId?: string },
    anchorBefore: number | undefined,
    upTo: number,
    limit: number,
  ): Promise<{ timelines: Map<string, StatusPoint[]>; truncated: boolean }> {
    const t = this.table('status_points');
    const rows = (await this.ds.query(
      `WITH apps AS (
         SELECT DISTINCT app_id FROM ${t}
         WHERE ($1::text IS NULL OR project_id = $1) AND ($2::text IS NULL OR app_id = $2)
       ), instants AS (
         SELECT DISTINCT ON (p.app_id, p.at) p.app_id, p.at, p.state
         FROM ${t} p JOIN apps USING (app_id)
         WHERE p.at <= $3::timestamptz
         ORDER BY p.app_id, p.at, p.version DESC, p.event_id COLLATE "C" DESC
       ), anchors AS (
         SELECT app_id, max(at) AS at FROM instants WHERE state <> ALL($4::text[]) GROUP BY app_id
       )
       SELECT ${POINT_COLUMNS.split(', ')
         .map((c) => `p.${c}`)
         .join(', ')}
       FROM ${t} p JOIN apps USING (app_id) LEFT JOIN anchors a USING (app_id)
       WHERE p.at <= $5 AND (a.at IS NULL OR p.at >= a.at)
       ORDER BY p.app_id, p.at, p.version
       LIMIT $6`,
      [
        filter.projectId ?? null,
        filter.appId ?? null,
        anchorBefore === undefined ? null : new Date(anchorBefore),
        BILLED,
        new Date(upTo),
        limit + 1,
      ],
    )) as PointRow[];
    const timelines = new Map<string, StatusPoint[]>();
    if (rows.length > limit) return { timelines, truncated: true };
    for (const row of rows) {
      const list = timelines.get(row.app_id) ?? [];
      list.push(toPoint(row));
      timelines.set(row.app_id, list);
    }
    return { timelines, truncated: false };
  }

  /** One app's points stamped in [since, upTo] (since undefined: from its first). */
  async timelineOf(appId: string, since: number | undefined, upTo: number): Promise<StatusPoint[]> {
    const rows = (await this.ds.query(
      `SELECT ${POINT_COLUMNS} FROM ${this.table('status_points')}
       WHERE app_id = $1 AND ($2::timestamptz IS NULL OR at >= $2) AND at <= $3
       ORDER BY at, version`,
      [appId, since === undefined ? null : new Date(since), new Date(upTo)],
    )) as PointRow[];
    return rows.map(toPoint);
  }

  /**
   * Apps that may have periods to record: those accruing, never closed, or changed since they were
   * closed; least recently closed first, at most `limit`.
   */
  async ledgersToClose(limit: number): Promise<LedgerCursor[]> {
    const rows = (await this.ds.query(
      `SELECT app_id, closed_through, anchor_at FROM ${this.table('app_ledgers')}
       WHERE last_billed OR closed_through IS NULL OR last_at > closed_through
       ORDER BY closed_through ASC NULLS FIRST, app_id
       LIMIT $1`,
      [limit],
    )) as Array<{ app_id: string; closed_through: Date | null; anchor_at: Date | null }>;
    return rows.map((r) => ({
      appId: r.app_id,
      ...(r.closed_through ? { closedThrough: r.closed_through.getTime() } : {}),
      ...(r.anchor_at ? { anchorAt: r.anchor_at.getTime() } : {}),
    }));
  }

  /**
   * Records closed periods of one app and moves its cursor, in one transaction: a period already
   * recorded is skipped, and each newly recorded one gets its `billing.usage.v1` event in the outbox.
   * Returns the periods newly recorded.
   */
  async closePeriods(
    appId: string,
    periods: readonly PeriodToRecord[],
    closedThrough: number,
    anchorAt: number | undefined,
  ): Promise<PeriodToRecord[]> {
    const recorded = await this.ds.transaction(async (em) => {
      const fresh: PeriodToRecord[] = [];
      if (periods.length) {
        const r = periods.map((p) => p.record);
        const keys = (await em.query(
          `INSERT INTO ${this.table('usage_periods')}
             (run_id, period_index, app_id, project_id, start_at, end_at, quantity, flavor,
              unit_price_micros, currency, charge_micros)
           SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[],
             $6::timestamptz[], $7::int[], $8::text[], $9::bigint[], $10::text[], $11::bigint[])
           ON CONFLICT (run_id, period_index) DO NOTHING
           RETURNING run_id, period_index`,
          [
            r.map((x) => x.runId),
            r.map((x) => x.periodIndex),
            r.map((x) => x.appId),
            r.map((x) => x.projectId),
            r.map((x) => x.start),
            r.map((x) => x.end),
            r.map((x) => x.quantity),
            r.map((x) => x.flavor),
            r.map((x) => String(x.unitPriceMicros)),
            r.map((x) => x.currency),
            periods.map((x) => String(x.chargeMicros)),
          ],
        )) as Array<{ run_id: string; period_index: number }>;
        const isNew = new Set(keys.map((k) => `${k.run_id}\n${k.period_index}`));
        for (const p of periods) {
          if (!isNew.has(`${p.record.runId}\n${p.record.periodIndex}`)) continue;
          await this.outbox.event(em, 'billing.usage.v1', p.record);
          fresh.push(p);
        }
      }
      await em.query(
        `UPDATE ${this.table('app_ledgers')} SET
           anchor_at = CASE WHEN closed_through IS NULL OR closed_through <= $2 THEN $3 ELSE anchor_at END,
           closed_through = GREATEST(COALESCE(closed_through, $2), $2)
         WHERE app_id = $1`,
        [appId, new Date(closedThrough), anchorAt === undefined ? null : new Date(anchorAt)],
      );
      return fresh;
    });
    return recorded;
  }

  /** Sends what the outbox holds now (it also flushes on its own every second). */
  flushOutbox(): Promise<void> {
    return this.outbox.flush();
  }

  /** The recorded periods of an app, oldest first (for operators and tests). */
  async recordedPeriods(
    appId: string,
  ): Promise<Array<{ runId: string; periodIndex: number; quantity: number }>> {
    const rows = (await this.ds.query(
      `SELECT run_id, period_index, quantity FROM ${this.table('usage_periods')}
       WHERE app_id = $1 ORDER BY start_at, run_id`,
      [appId],
    )) as Array<{ run_id: string; period_index: number; quantity: number }>;
    return rows.map((r) => ({ runId: r.run_id, periodIndex: r.period_index, quantity: r.quantity }));
  }
}

function toPoint(r: PointRow): StatusPoint {
  return {
    id: r.event_id,
    at: r.at.getTime(),
    version: r.version,
    projectId: r.project_id,
    state: r.state as AppState,
    allocatedUnits: r.allocated_units,
    rate: { flavor: r.flavor, unitPriceMicros: Number(r.unit_price_micros), currency: r.currency },
  };
}

function samePoint(a: StatusPoint, b: StatusPoint): boolean {
  return (
    a.at === b.at &&
    a.version === b.version &&
    a.projectId === b.projectId &&
    a.state === b.state &&
    a.allocatedUnits === b.allocatedUnits &&
    a.rate.flavor === b.rate.flavor &&
    a.rate.unitPriceMicros === b.rate.unitPriceMicros &&
    a.rate.currency === b.rate.currency
  );
}
