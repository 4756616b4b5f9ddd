/**
 * Runs and periods from an app's status timeline (DESIGN.md "Billing (our decision)"). Pure: the
 * same points and `asOf` always give the same runs, whatever order the points came in and however
 * often each was delivered.
 *
 * - A run starts when the app enters SCALING or RUNNING from an unbilled state (or from nothing)
 *   and ends at the first instant it is in neither. A change of rate or project inside a run ends
 *   that run and starts another at the same instant, so that no minute is billed at a price that
 *   was not in force (it should never happen; a buggy or hostile stream might do it).
 * - A run is cut into 60-second periods from its start. Each period the run overlaps is billed in
 *   full; an open run (no end yet) has periods up to the one containing `asOf`, which is open.
 * - A period's quantity is the highest `allocatedUnits` held at any instant of it that lies in the
 *   run, the value carried in at the period's start included.
 * - Several points at the same instant: only the last (by version, then id) takes effect, the
 *   others were held for no time at all. Points after `asOf` are not known yet.
 *
 * Quantities are kept as blocks of consecutive periods with the same quantity, so the work is
 * proportional to the number of points, not to the length of the runs.
 */
import { type AppState, BILLED_STATES, type Rate } from '@gantry/contracts';

import { chargeMicros } from './money.js';

export const PERIOD_MS = 60_000;

/** One status change of an app as billing sees it. */
export interface StatusPoint {
  /** Event id: the idempotency key, and the last tie-breaker of the order. */
  readonly id: string;
  /** When the change happened, epoch milliseconds. */
  readonly at: number;
  /** Monotonic per app: orders points at the same instant. */
  readonly version: number;
  readonly projectId: string;
  readonly state: AppState;
  readonly allocatedUnits: number;
  readonly rate: Rate;
}

/** Periods [from, to) of a run (indexes), all with the same quantity. */
export interface QuantityBlock {
  readonly from: number;
  readonly to: number;
  readonly quantity: number;
}

/**
 * One run at one rate. Guarantees: `start` < `end` when closed; `periodCount` ≥ 1; `blocks` are
 * contiguous, non-empty, and cover exactly the periods [0, periodCount); `runId` is a function of
 * the app and the start instant only, so recomputing the same timeline yields the same ids.
 */
export interface Run {
  readonly runId: string;
  readonly appId: string;
  readonly projectId: string;
  readonly rate: Rate;
  /** Epoch ms. */
  readonly start: number;
  /** Epoch ms, exclusive; undefined while the run is open at `asOf`. */
  readonly end?: number;
  readonly periodCount: number;
  readonly blocks: readonly QuantityBlock[];
}

/** One 60-second period of a run. */
export interface Period {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  readonly quantity: number;
  /** The period contains `asOf` and its run is still open: its quantity may still grow. */
  readonly open: boolean;
}

export const runIdOf = (appId: string, start: number): string => `${appId}:${start}`;

export function comparePoints(a: StatusPoint, b: StatusPoint): number {
  if (a.at !== b.at) return a.at - b.at;
  if (a.version !== b.version) return a.version - b.version;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The timeline in effect: points known at `asOf`, each id once, in order, one per instant (the last
 * there). Every other function here reads a timeline through this one.
 */
export function effectiveTimeline(points: readonly StatusPoint[], asOf: number): StatusPoint[] {
  const sorted = points.filter((p) => p.at <= asOf).sort(comparePoints);
  const seen = new Set<string>();
  const out: StatusPoint[] = [];
  for (const p of sorted) {
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    if (out.length && out[out.length - 1]?.at === p.at) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

const isBilled = (p: StatusPoint): boolean => BILLED_STATES.has(p.state);

const sameTerms = (a: StatusPoint, b: StatusPoint): boolean =>
  a.projectId === b.projectId &&
  a.rate.flavor === b.rate.flavor &&
  a.rate.unitPriceMicros === b.rate.unitPriceMicros &&
  a.rate.currency === b.rate.currency;

/** Every run of one app's timeline, as known at `asOf`, oldest first. */
export function computeRuns(appId: string, points: readonly StatusPoint[], asOf: number): Run[] {
  const runs: Run[] = [];
  let first: StatusPoint | undefined;
  let changes: StatusPoint[] = [];
  for (const p of effectiveTimeline(points, asOf)) {
    if (first && (!isBilled(p) || !sameTerms(first, p))) {
      runs.push(makeRun(appId, first, changes, p.at, asOf));
      first = undefined;
    }
    if (!isBilled(p)) continue;
    if (!first) {
      first = p;
      changes = [];
    } else changes.push(p);
  }
  if (first) runs.push(makeRun(appId, first, changes, undefined, asOf));
  return runs;
}

function makeRun(
  appId: string,
  first: StatusPoint,
  changes: readonly StatusPoint[],
  end: number | undefined,
  asOf: number,
): Run {
  const start = first.at;
  const periodCount =
    end === undefined ? Math.floor((asOf - start) / PERIOD_MS) + 1 : Math.ceil((end - start) / PERIOD_MS);
  return {
    runId: runIdOf(appId, start),
    appId,
    projectId: first.projectId,
    rate: first.rate,
    start,
    ...(end === undefined ? {} : { end }),
    periodCount,
    blocks: quantityBlocks(start, first.allocatedUnits, changes, periodCount),
  };
}

/** Period quantities of a run starting at `start` with `units`, changed by `changes` (inside the run). */
function quantityBlocks(
  start: number,
  units: number,
  changes: readonly StatusPoint[],
  periodCount: number,
): QuantityBlock[] {
  const blocks: QuantityBlock[] = [];
  const emit = (from: number, to: number, quantity: number): void => {
    if (to <= from) return;
    const last = blocks[blocks.length - 1];
    if (last && last.to === from && last.quantity === quantity)
      blocks[blocks.length - 1] = { from: last.from, to, quantity };
    else blocks.push({ from, to, quantity });
  };
  let period = 0; // the period being accumulated
  let highest = units; // highest quantity held in it so far
  let current = units; // quantity in effect now
  for (const c of changes) {
    const k = Math.floor((c.at - start) / PERIOD_MS);
    if (k > period) {
      emit(period, period + 1, highest);
      emit(period + 1, k, current);
      period = k;
      // The value carried in counts only if it was held at an instant of this period.
      highest = c.at > start + k * PERIOD_MS ? current : c.allocatedUnits;
    }
    highest = Math.max(highest, c.allocatedUnits);
    current = c.allocatedUnits;
  }
  emit(period, period + 1, highest);
  emit(period + 1, periodCount, current);
  return blocks;
}

/** Period `index` of `run`. */
export function periodOf(run: Run, index: number, quantity: number): Period {
  const start = run.start + index * PERIOD_MS;
  return {
    index,
    start,
    end: start + PERIOD_MS,
    quantity,
    open: run.end === undefined && index === run.periodCount - 1,
  };
}

/** The periods of `run` with index in [from, to), in order. */
export function* periods(run: Run, from = 0, to = run.periodCount): Generator<Period> {
  for (const b of run.blocks) {
    for (let i = Math.max(from, b.from); i < Math.min(to, b.to); i++) yield periodOf(run, i, b.quantity);
  }
}

/** Σ quantity over the periods [from, to) of `run`. */
export function unitMinutes(run: Run, from = 0, to = run.periodCount): bigint {
  let sum = 0n;
  for (const b of run.blocks) {
    const n = Math.min(to, b.to) - Math.max(from, b.from);
    if (n > 0) sum += BigInt(n) * BigInt(b.quantity);
  }
  return sum;
}

/** Indexes [from, to) of the periods of `run` that overlap the window [windowFrom, windowTo). */
export function periodsOverlapping(
  run: Run,
  windowFrom: number | undefined,
  windowTo: number | undefined,
): { from: number; to: number } {
  const from = windowFrom === undefined ? 0 : Math.max(0, Math.floor((windowFrom - run.start) / PERIOD_MS));
  const to =
    windowTo === undefined
      ? run.periodCount
      : Math.min(run.periodCount, Math.max(0, Math.ceil((windowTo - run.start) / PERIOD_MS)));
  return { from, to: Math.max(from, to) };
}

/** Charge of the periods [from, to) of `run`, rounded once. */
export function runCharge(run: Run, from = 0, to = run.periodCount): bigint {
  return chargeMicros(unitMinutes(run, from, to), run.rate.unitPriceMicros);
}

/**
 * The last instant ≤ `t` at which the app was in an unbilled state (per the effective timeline), or
 * undefined if there is none. No run that is billed after it started before it: loading a timeline
 * from this instant on yields the same runs after it as loading all of it.
 */
export function lastUnbilledInstant(points: readonly StatusPoint[], t: number): number | undefined {
  const timeline = effectiveTimeline(points, t);
  for (let i = timeline.length - 1; i >= 0; i--) {
    const p = timeline[i];
    if (p && !isBilled(p)) return p.at;
  }
  return undefined;
}
