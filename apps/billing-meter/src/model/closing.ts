/**
 * Which periods the ledger records next. A period becomes final at min(its end, its run's end):
 * after that nothing can change it (a later event starts another run). The ledger keeps, per app,
 * the instant up to which every final period is recorded (`closedThrough`), and each pass records
 * the periods that became final since.
 */
import { chargeMicros } from './money.js';
import { type Period, PERIOD_MS, periodOf, type Run } from './usage.js';

/** A period to record: its run, itself, its charge, and when it became final. */
export interface FinalPeriod extends Period {
  readonly run: Run;
  readonly chargeMicros: bigint;
  /** min(end, run end): the instant from which the period cannot change. */
  readonly finalAt: number;
}

/**
 * What one pass records for one app. Guarantees: every period in `periods` became final in
 * (`after`, `closedThrough`], in order of `finalAt`; every period with a quantity above 0 that
 * became final in that interval is in `periods`; `closedThrough` ≤ `through`.
 */
export interface ClosePlan {
  readonly periods: readonly FinalPeriod[];
  readonly closedThrough: number;
}

/**
 * Periods of `runs` (computed at asOf = `through`) that became final in (`after`, `through`], at
 * most `max` of them. Periods of quantity 0 bill nothing and are passed over, not recorded. When
 * capped, `closedThrough` is the last recorded period's `finalAt`, so the next pass resumes there.
 */
export function periodsToClose(
  runs: readonly Run[],
  after: number | undefined,
  through: number,
  max: number,
): ClosePlan {
  const out: FinalPeriod[] = [];
  if (after !== undefined && after >= through) return { periods: out, closedThrough: after };
  for (const run of [...runs].sort((a, b) => a.start - b.start)) {
    if (run.end !== undefined && after !== undefined && run.end <= after) continue;
    const from = after === undefined ? 0 : Math.max(0, Math.floor((after - run.start) / PERIOD_MS));
    const to =
      run.end !== undefined && run.end <= through
        ? run.periodCount
        : Math.min(run.periodCount, Math.max(0, Math.floor((through - run.start) / PERIOD_MS)));
    for (const b of run.blocks) {
      if (b.quantity === 0) continue;
      for (let i = Math.max(from, b.from); i < Math.min(to, b.to); i++) {
        const p = periodOf(run, i, b.quantity);
        const finalAt = Math.min(p.end, run.end ?? Number.POSITIVE_INFINITY);
        out.push({
          ...p,
          open: false,
          run,
          chargeMicros: chargeMicros(BigInt(p.quantity), run.rate.unitPriceMicros),
          finalAt,
        });
        if (out.length >= max) return { periods: out, closedThrough: finalAt };
      }
    }
  }
  return { periods: out, closedThrough: through };
}
