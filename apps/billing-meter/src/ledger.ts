import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import type { Clock } from './clock.js';
import { billingMetrics } from './metrics.js';
import { periodsToClose } from './model/closing.js';
import { computeRuns, lastUnbilledInstant, PERIOD_MS } from './model/usage.js';
import { FeedWatermark } from './model/watermark.js';
import type { StatusFeed } from './status-feed.js';
import type { BillingStore, LedgerCursor, PeriodToRecord } from './store/billing-store.js';

export interface LedgerOptions {
  intervalMs: number;
  graceMs: number;
  batchApps: number;
  batchPeriods: number;
}

/** What one pass did. */
export type PassResult =
  { outcome: 'waiting'; reason: string } | { outcome: 'closed'; through: number; recorded: number };

/**
 * Records closed periods, exactly once, on a timer. A pass closes through
 * `min(now, feed watermark) − grace`: only periods whose every status event has had time to arrive
 * and be handled, and never from a timeline the meter has not caught up with (after a restart, the
 * durable consumer may still be working through a backlog). Periods, the `billing.usage.v1` events
 * announcing them and the app's cursor are written in one transaction; `(run id, period index)` is
 * unique, so a replayed pass, a restart, or a second instance records nothing twice.
 */
@Injectable()
export class Ledger implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Ledger');
  private readonly watermark: FeedWatermark;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PassResult> | undefined;
  private stopped = false;

  constructor(
    private readonly store: BillingStore,
    private readonly feed: StatusFeed,
    private readonly clock: Clock,
    private readonly opts: LedgerOptions,
  ) {
    this.watermark = new FeedWatermark(opts.graceMs);
  }

  onApplicationBootstrap(): void {
    // Producers may still be flushing what they held while the meter was away.
    this.watermark.interrupted(this.clock.now());
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Runs one pass unless one is running (then waits for that one). Never rejects. */
  tick(): Promise<PassResult> {
    this.running ??= this.pass()
      .then((result) => {
        billingMetrics.passes.inc({ outcome: result.outcome });
        return result;
      })
      .catch((error: unknown): PassResult => {
        billingMetrics.passes.inc({ outcome: 'failed' });
        this.log.warn(`ledger pass failed: ${(error as Error).message}`);
        return { outcome: 'waiting', reason: (error as Error).message };
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async pass(): Promise<PassResult> {
    let mark: number | undefined;
    try {
      mark = this.watermark.observe(await this.feed.sample(() => this.clock.now()));
    } catch (error) {
      this.watermark.interrupted(this.clock.now());
      return { outcome: 'waiting', reason: `cannot read the status feed: ${(error as Error).message}` };
    }
    if (mark === undefined)
      return { outcome: 'waiting', reason: 'the status feed has not been caught up yet' };
    const now = this.clock.now();
    const through = Math.min(now, mark) - this.opts.graceMs;
    billingMetrics.lag.set((now - through) / 1000);
    let recorded = 0;
    for (const cursor of await this.store.ledgersToClose(this.opts.batchApps)) {
      if (this.stopped) break;
      recorded += await this.closeApp(cursor, through);
    }
    if (recorded) await this.store.flushOutbox().catch(() => undefined); // the relay retries on its own
    return { outcome: 'closed', through, recorded };
  }

  /** Records what became final for one app since its cursor; returns how many periods. */
  private async closeApp(cursor: LedgerCursor, through: number): Promise<number> {
    if (cursor.closedThrough !== undefined && cursor.closedThrough >= through) return 0;
    const points = await this.store.timelineOf(cursor.appId, cursor.anchorAt, through);
    const plan = periodsToClose(
      computeRuns(cursor.appId, points, through),
      cursor.closedThrough,
      through,
      this.opts.batchPeriods,
    );
    const periods: PeriodToRecord[] = plan.periods.map((p) => ({
      record: {
        id: `${p.run.runId}:${p.index}`,
        projectId: p.run.projectId,
        appId: p.run.appId,
        runId: p.run.runId,
        periodIndex: p.index,
        start: new Date(p.start).toISOString(),
        end: new Date(p.end).toISOString(),
        quantity: p.quantity,
        flavor: p.run.rate.flavor,
        unitPriceMicros: p.run.rate.unitPriceMicros,
        currency: p.run.rate.currency,
      },
      chargeMicros: p.chargeMicros,
    }));
    const anchor = lastUnbilledInstant(points, plan.closedThrough - PERIOD_MS);
    const fresh = await this.store.closePeriods(cursor.appId, periods, plan.closedThrough, anchor);
    for (const p of fresh) {
      billingMetrics.periodsClosed.inc({ currency: p.record.currency });
      billingMetrics.chargeClosed.inc({ currency: p.record.currency }, Number(p.chargeMicros));
    }
    return fresh.length;
  }
}
