import type { UsageQuery, UsageResult } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { Injectable } from '@nestjs/common';

import { Clock } from './clock.js';
import { buildReport, parseWindow, QUERY_LIMITS } from './model/report.js';
import { computeRuns, PERIOD_MS } from './model/usage.js';
import { BillingStore } from './store/billing-store.js';

/**
 * Answers usage queries from the stored timelines, at asOf = now: running apps accrue up to the
 * moment of the question even when no event has arrived for hours. The answer depends only on the
 * status events stored and on asOf — never on when they arrived, or how often.
 */
@Injectable()
export class UsageReports {
  constructor(
    private readonly store: BillingStore,
    private readonly clock: Clock,
  ) {}

  async query(q: UsageQuery): Promise<UsageResult> {
    const asOf = this.clock.now();
    const window = parseWindow(q, asOf);
    // A period that overlaps the window started at most one period before it: runs that ended
    // before then cannot reach into it, and need not be loaded.
    const anchorBefore = window.from === undefined ? undefined : Math.min(window.from - PERIOD_MS, asOf);
    const { timelines, truncated } = await this.store.timelines(
      { ...(q.projectId ? { projectId: q.projectId } : {}), ...(q.appId ? { appId: q.appId } : {}) },
      anchorBefore,
      asOf,
      QUERY_LIMITS.maxPoints,
    );
    if (truncated)
      throw new GantryError(
        'VALIDATION_FAILED',
        `more than ${QUERY_LIMITS.maxPoints} status changes match; narrow the query with appId, projectId or from`,
      );
    const runs = [...timelines].flatMap(([appId, points]) => computeRuns(appId, points, asOf));
    return buildReport(runs, asOf, {
      window,
      withPeriods: q.periods ?? true,
      ...(q.projectId ? { projectId: q.projectId } : {}),
    });
  }
}
