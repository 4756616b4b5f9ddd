/**
 * The answer to `query.usage.v1`, from computed runs. Pure; refuses (VALIDATION_FAILED) what would
 * be too much work or too large a reply, and says how to narrow the question.
 */
import type { UsageQuery, UsageResult, UsageRun } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';

import { chargeMicros, toSafeInteger } from './money.js';
import { periods, periodsOverlapping, type Run, runCharge, unitMinutes } from './usage.js';

const DAY_MS = 86_400_000;

/** Bounds on one query's work and reply. */
export const QUERY_LIMITS = {
  /** Longest window [from, to) a query may ask for. */
  maxWindowDays: 400,
  /** Most status points a query may load (all matching apps together). */
  maxPoints: 200_000,
  /** Most runs in one reply. */
  maxRuns: 1_000,
  /** Most periods listed in one reply (ask with `periods: false` for more). */
  maxPeriods: 5_000,
  /** Largest encoded reply: NATS refuses messages over its max_payload (1 MiB by default). */
  maxReplyBytes: 900_000,
} as const;

/** A query's window in epoch ms: periods overlapping [from, to) are selected. */
export interface UsageWindow {
  readonly from?: number;
  readonly to?: number;
}

/** The window of `q` at `asOf`, or VALIDATION_FAILED naming the field at fault. */
export function parseWindow(q: UsageQuery, asOf: number): UsageWindow {
  const from = q.from === undefined ? undefined : Date.parse(q.from);
  const to = q.to === undefined ? undefined : Date.parse(q.to);
  if (from !== undefined && to !== undefined && from > to) throw invalid('to', 'must not be before from');
  if (from !== undefined && (to ?? Math.max(asOf, from)) - from > QUERY_LIMITS.maxWindowDays * DAY_MS)
    throw invalid(
      q.to === undefined ? 'from' : 'to',
      `the window may span at most ${QUERY_LIMITS.maxWindowDays} days; ask for several windows`,
    );
  return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
}

export interface ReportOptions {
  readonly window: UsageWindow;
  /** List each run's periods (default true). */
  readonly withPeriods: boolean;
  /** Keep only runs of this project (a run belongs to the project it was billed to). */
  readonly projectId?: string;
}

/**
 * Runs trimmed to the periods overlapping the window (runs with none are left out), sorted by start
 * then id; each run's charge is rounded once from its unit-minutes; totals per currency sum the runs
 * returned. Throws VALIDATION_FAILED when the reply would exceed QUERY_LIMITS.
 */
export function buildReport(runs: readonly Run[], asOf: number, opts: ReportOptions): UsageResult {
  const selected = runs
    .filter((r) => opts.projectId === undefined || r.projectId === opts.projectId)
    .map((run) => ({ run, ...periodsOverlapping(run, opts.window.from, opts.window.to) }))
    .filter((s) => s.to > s.from)
    .sort((a, b) => a.run.start - b.run.start || (a.run.runId < b.run.runId ? -1 : 1));
  if (selected.length > QUERY_LIMITS.maxRuns)
    throw tooLarge(`${selected.length} runs match (at most ${QUERY_LIMITS.maxRuns} per answer)`);
  if (opts.withPeriods) {
    const listed = selected.reduce((n, s) => n + (s.to - s.from), 0);
    if (listed > QUERY_LIMITS.maxPeriods)
      throw tooLarge(
        `${listed} periods match (at most ${QUERY_LIMITS.maxPeriods} listed per answer); ask with periods: false for runs and totals only`,
      );
  }

  const totals = new Map<string, { minutes: number; unitMinutes: bigint; chargeMicros: bigint }>();
  const out: UsageRun[] = [];
  for (const { run, from, to } of selected) {
    const units = unitMinutes(run, from, to);
    const charge = runCharge(run, from, to);
    const price = run.rate.unitPriceMicros;
    out.push({
      runId: run.runId,
      appId: run.appId,
      projectId: run.projectId,
      flavor: run.rate.flavor,
      unitPriceMicros: price,
      currency: run.rate.currency,
      start: iso(run.start),
      ...(run.end === undefined ? {} : { end: iso(run.end) }),
      minutes: to - from,
      unitMinutes: safe(units, 'unit-minutes'),
      chargeMicros: safe(charge, 'a charge'),
      periods: opts.withPeriods
        ? [...periods(run, from, to)].map((p) => ({
            index: p.index,
            start: iso(p.start),
            end: iso(p.end),
            quantity: p.quantity,
            chargeMicros: safe(chargeMicros(BigInt(p.quantity), price), 'a charge'),
            open: p.open,
          }))
        : [],
    });
    const t = totals.get(run.rate.currency) ?? { minutes: 0, unitMinutes: 0n, chargeMicros: 0n };
    t.minutes += to - from;
    t.unitMinutes += units;
    t.chargeMicros += charge;
    totals.set(run.rate.currency, t);
  }
  const result: UsageResult = {
    asOf: iso(asOf),
    runs: out,
    totals: [...totals.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([currency, t]) => ({
        currency,
        minutes: t.minutes,
        unitMinutes: safe(t.unitMinutes, 'unit-minutes'),
        chargeMicros: safe(t.chargeMicros, 'a total charge'),
      })),
  };
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes > QUERY_LIMITS.maxReplyBytes)
    throw tooLarge(`${bytes} bytes (at most ${QUERY_LIMITS.maxReplyBytes}); ask with periods: false`);
  return result;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function safe(value: bigint, what: string): number {
  try {
    return toSafeInteger(value, what);
  } catch (error) {
    throw tooLarge((error as Error).message);
  }
}

function invalid(field: string, message: string): GantryError {
  return new GantryError('VALIDATION_FAILED', `${field}: ${message}`, { details: [{ field, message }] });
}

function tooLarge(why: string): GantryError {
  return new GantryError(
    'VALIDATION_FAILED',
    `the answer would be too large: ${why}; narrow it with appId, projectId or a shorter from/to window`,
  );
}
