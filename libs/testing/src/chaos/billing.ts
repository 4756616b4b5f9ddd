/**
 * Billed minutes recomputed from an app's status history, the way the billing meter counts them
 * (apps/billing-meter/src/model/usage.ts), written again here from the rule rather than imported:
 * apps never share code with tests of their behaviour, and a second reading is the point.
 *
 * - A run starts when the app enters SCALING or RUNNING from an unbilled state (or from nothing) and
 *   ends at the first instant it is in neither.
 * - Several entries at the same instant: only the last took effect (the others lasted no time).
 * - A run is cut into 60-second periods from its start; every period it touches is billed: a closed
 *   run bills ceil(length / 60 s) minutes, an open one floor((asOf − start) / 60 s) + 1.
 */

export const BILLED_STATES: ReadonlySet<string> = new Set(['SCALING', 'RUNNING']);
const PERIOD_MS = 60_000;

export interface HistoryEntry {
  readonly state: string;
  /** ISO 8601. */
  readonly date: string;
}

/** One billed run: epoch ms, `end` absent while open at `asOf`. */
export interface BilledRun {
  readonly start: number;
  readonly end?: number;
  readonly minutes: number;
}

/** The runs of `history` known at `asOf` (entries after it are ignored), oldest first. */
export function runsFromHistory(history: readonly HistoryEntry[], asOf: number): BilledRun[] {
  const points = history
    .map((h, i) => ({ at: Date.parse(h.date), state: h.state, i }))
    .filter((p) => Number.isFinite(p.at) && p.at <= asOf)
    .sort((a, b) => a.at - b.at || a.i - b.i);
  const timeline: Array<{ at: number; state: string }> = [];
  for (const p of points) {
    if (timeline.length && timeline[timeline.length - 1]?.at === p.at) timeline[timeline.length - 1] = p;
    else timeline.push(p);
  }
  const runs: BilledRun[] = [];
  let start: number | undefined;
  for (const p of timeline) {
    const billed = BILLED_STATES.has(p.state);
    if (billed && start === undefined) start = p.at;
    if (!billed && start !== undefined) {
      runs.push({ start, end: p.at, minutes: Math.ceil((p.at - start) / PERIOD_MS) });
      start = undefined;
    }
  }
  if (start !== undefined) runs.push({ start, minutes: Math.floor((asOf - start) / PERIOD_MS) + 1 });
  return runs;
}

/** Σ minutes of `runsFromHistory(history, asOf)`. */
export function billedMinutesFromHistory(history: readonly HistoryEntry[], asOf: number): number {
  return runsFromHistory(history, asOf).reduce((n, r) => n + r.minutes, 0);
}
