import type { AppState, AppStatusChanged, Rate } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { periodsToClose } from './closing.js';
import { INGEST_LIMITS, judgedAt, toStatusPoint } from './ingest.js';
import { computeRuns, type StatusPoint } from './usage.js';
import { combineFeeds, FeedWatermark } from './watermark.js';

const T0 = Date.parse('2026-11-02T08:00:00.000Z');
const S = 1_000;
const M = 60_000;
const CPU: Rate = { flavor: 'ai1-1-cpu', unitPriceMicros: 30_000, currency: 'EUR' };

const timeline = (steps: ReadonlyArray<readonly [number, AppState, number]>): StatusPoint[] =>
  steps.map(([offset, state, units], i) => ({
    id: `ev-${i + 1}`,
    at: T0 + offset,
    version: i + 1,
    projectId: 'p1',
    state,
    allocatedUnits: units,
    rate: CPU,
  }));

/** Periods recorded by passes at each of `throughs`, starting from nothing, each pass at most `max`. */
function passes(points: StatusPoint[], throughs: number[], max = 1_000) {
  let after: number | undefined;
  const recorded: Array<[string, number, number]> = [];
  for (const through of throughs) {
    const plan = periodsToClose(computeRuns('app', points, through), after, through, max);
    for (const p of plan.periods) recorded.push([p.run.runId, p.index, p.quantity]);
    after = plan.closedThrough;
  }
  return { recorded, after };
}

describe('periodsToClose', () => {
  const points = timeline([
    [0, 'RUNNING', 2],
    [61 * S, 'STOPPED', 0],
    [5 * M, 'RUNNING', 1],
    [7 * M + 30 * S, 'SCALING', 0],
    [9 * M, 'RUNNING', 3],
  ]);
  const run1 = `app:${T0}`;
  const run2 = `app:${T0 + 5 * M}`;

  it('records each final period once, whatever the passes', () => {
    const all = [
      [run1, 0, 2],
      [run1, 1, 2],
      [run2, 0, 1],
      [run2, 1, 1],
      [run2, 2, 1],
      [run2, 4, 3],
      [run2, 5, 3],
    ];
    const end = T0 + 11 * M;
    expect(passes(points, [end]).recorded).toEqual(all);
    const ticks = Array.from({ length: 200 }, (_, i) => T0 + i * 3_300);
    expect(passes(points, [...ticks, end]).recorded).toEqual(all);
    expect(passes(points, [end], 1).recorded).toEqual([all[0]]);
    expect(passes(points, Array<number>(10).fill(end), 1).recorded).toEqual(all);
  });

  it('closes the last period of a run when the run ends, not when its minute is over', () => {
    const plan = periodsToClose(computeRuns('app', points, T0 + 62 * S), undefined, T0 + 62 * S, 100);
    expect(plan.periods.map((p) => [p.index, p.finalAt - T0, p.open])).toEqual([
      [0, 60 * S, false],
      [1, 61 * S, false],
    ]);
    expect(plan.closedThrough).toBe(T0 + 62 * S);
  });

  it('never closes the open period of a running app', () => {
    const plan = periodsToClose(
      computeRuns('app', points, T0 + 10 * M + 59 * S),
      undefined,
      T0 + 10 * M + 59 * S,
      100,
    );
    expect(plan.periods.filter((p) => p.run.runId === run2).map((p) => p.index)).toEqual([0, 1, 2, 4]);
  });

  it('passes over periods of quantity 0 without recording them', () => {
    const plan = periodsToClose(computeRuns('app', points, T0 + 9 * M), T0 + 7 * M, T0 + 9 * M, 100);
    expect(plan.periods.map((p) => [p.run.runId, p.index, p.quantity])).toEqual([[run2, 2, 1]]);
  });

  it('resumes where a capped pass stopped', () => {
    const plan = periodsToClose(computeRuns('app', points, T0 + 11 * M), undefined, T0 + 11 * M, 3);
    expect(plan.periods.map((p) => p.index)).toEqual([0, 1, 0]);
    expect(plan.closedThrough).toBe(T0 + 6 * M);
  });

  it('records nothing when asked for no new time', () => {
    const plan = periodsToClose(computeRuns('app', points, T0 + 11 * M), T0 + 11 * M, T0 + 10 * M, 100);
    expect(plan).toEqual({ periods: [], closedThrough: T0 + 11 * M });
  });

  it('gives each period its own charge, rounded half up', () => {
    const plan = periodsToClose(computeRuns('app', points, T0 + 2 * M), undefined, T0 + 2 * M, 100);
    expect(plan.periods.map((p) => p.chargeMicros)).toEqual([1_000n, 1_000n]);
  });
});

describe('toStatusPoint', () => {
  const event: AppStatusChanged = {
    id: 'app-1:status:3',
    appId: 'app-1',
    projectId: 'p1',
    version: 3,
    at: '2026-11-02T08:00:00.250+01:00',
    state: 'RUNNING',
    info: { code: 'APP_RUNNING', message: 'running' },
    availableReplicas: 2,
    allocatedUnits: 4,
    history: [],
    lastTransitionDate: '2026-11-02T07:00:00.250Z',
    rate: CPU,
  };
  const now = Date.parse('2026-11-02T07:00:10Z');

  it('keeps what billing needs, with the instant in epoch ms', () => {
    expect(toStatusPoint(event, now)).toEqual({
      ok: true,
      point: {
        id: 'app-1:status:3',
        at: Date.parse('2026-11-02T07:00:00.250Z'),
        version: 3,
        projectId: 'p1',
        state: 'RUNNING',
        allocatedUnits: 4,
        rate: CPU,
      },
    });
  });

  it.each<[string, Partial<AppStatusChanged>, RegExp]>([
    ['a date before 2000', { at: '1999-12-31T23:59:59Z' }, /before 2000/],
    ['a date over a day ahead', { at: '2026-11-03T08:00:00Z' }, /ahead/],
    ['absurd units', { allocatedUnits: INGEST_LIMITS.maxUnits + 1 }, /allocatedUnits/],
    [
      'an absurd price',
      { rate: { ...CPU, unitPriceMicros: INGEST_LIMITS.maxUnitPriceMicros + 1 } },
      /unitPriceMicros/,
    ],
    ['a currency that is not a code', { rate: { ...CPU, currency: 'eur' } }, /currency/],
    ['an empty flavor', { rate: { ...CPU, flavor: '' } }, /flavor/],
    ['a huge flavor', { rate: { ...CPU, flavor: 'x'.repeat(101) } }, /flavor/],
    ['a NUL in the id', { id: 'a\0b' }, /NUL/],
    ['a version beyond 32 bits', { version: 2 ** 31 }, /version/],
  ])('refuses %s', (_what, change, problem) => {
    const r = toStatusPoint({ ...event, ...change }, now);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('; ')).toMatch(problem);
  });
});

describe('FeedWatermark', () => {
  const sample = (at: number, pending: number, ackPending: number, ackFloor: number, lastSeq: number) => ({
    at,
    pending,
    ackPending,
    ackFloor,
    lastSeq,
  });

  it('knows nothing until the feed is seen caught up', () => {
    const w = new FeedWatermark();
    expect(w.observe(sample(100, 5, 0, 10, 20))).toBeUndefined();
    expect(w.observe(sample(200, 0, 1, 19, 21))).toBeUndefined();
    expect(w.observe(sample(300, 0, 0, 21, 21))).toBe(300);
  });

  it('advances under constant traffic once the ack floor passes an earlier sample', () => {
    const w = new FeedWatermark();
    expect(w.observe(sample(100, 3, 2, 10, 20))).toBeUndefined();
    expect(w.observe(sample(200, 3, 2, 19, 25))).toBeUndefined();
    expect(w.observe(sample(300, 3, 2, 20, 30))).toBe(100);
    expect(w.observe(sample(400, 3, 2, 30, 35))).toBe(300);
  });

  it('lets producers settle after an interruption before it advances again', () => {
    const w = new FeedWatermark(1_000);
    w.interrupted(0);
    expect(w.observe(sample(500, 0, 0, 1, 1))).toBeUndefined();
    expect(w.observe(sample(1_000, 0, 0, 1, 1))).toBe(1_000);
    w.interrupted(2_000);
    expect(w.observe(sample(2_500, 0, 0, 2, 2))).toBe(1_000);
    expect(w.observe(sample(2_900, 5, 0, 2, 7))).toBe(1_000);
    expect(w.observe(sample(3_100, 5, 0, 7, 9))).toBe(1_000);
    expect(w.observe(sample(3_200, 0, 0, 9, 9))).toBe(3_200);
  });

  it('sees the v1 and v2 status consumers as one feed', () => {
    const c = (pending: number, ackPending: number, floor: number) => ({
      num_pending: pending,
      num_ack_pending: ackPending,
      ack_floor: { stream_seq: floor },
    });
    // Both idle: everything up to the stream's end is handled, whatever their floors say.
    expect(combineFeeds(100, 50, [c(0, 0, 40), c(0, 0, 3)])).toEqual(sample(100, 0, 0, 50, 50));
    // One busy: its floor is the feed's; the idle one's stale floor does not hold it back.
    expect(combineFeeds(100, 50, [c(2, 1, 45), c(0, 0, 3)])).toEqual(sample(100, 2, 1, 45, 50));
    // Both busy: the lower floor, and what either still has to handle.
    expect(combineFeeds(100, 50, [c(2, 0, 45), c(1, 1, 30)])).toEqual(sample(100, 3, 1, 30, 50));
    // Fed to the watermark: a busy v1 consumer holds it back until it catches up.
    const w = new FeedWatermark();
    expect(w.observe(combineFeeds(100, 50, [c(0, 0, 50), c(1, 0, 30)]))).toBeUndefined();
    expect(w.observe(combineFeeds(200, 60, [c(0, 0, 60), c(0, 0, 31)]))).toBe(200);
  });

  it('never goes back', () => {
    const w = new FeedWatermark();
    w.observe(sample(500, 0, 0, 1, 1));
    expect(w.observe(sample(400, 0, 0, 1, 1))).toBe(500);
    expect(w.current).toBe(500);
  });
});

describe('judgedAt: what an event date is checked against', () => {
  const stored = Date.parse('2026-11-23T10:00:00Z');
  const ahead: AppStatusChanged['at'] = '2026-11-25T10:00:00.000Z'; // two days after it was stored
  const event = (at: string): AppStatusChanged => ({
    id: 'a:1',
    appId: 'a',
    projectId: 'p',
    version: 1,
    at,
    state: 'RUNNING',
    info: { code: 'APP_RUNNING', message: 'running' },
    availableReplicas: 1,
    allocatedUnits: 1,
    history: [],
    lastTransitionDate: at,
    rate: CPU,
  });

  it.each([
    ['first delivery, just after it was stored', stored, stored + 50, stored],
    ['a replay a year later', stored, stored + 365 * 86_400_000, stored],
    ['a clock behind the stream', stored, stored - 86_400_000, stored],
    ['no stored time (core NATS)', undefined, stored, stored],
  ])('%s', (_what, storedAt, clockNow, expected) => {
    expect(judgedAt(storedAt, clockNow)).toBe(expected);
  });

  it('refuses an event stamped two days ahead of its storage the same way on a replay a year later', () => {
    const first = toStatusPoint(event(ahead), judgedAt(stored, stored + 50));
    const replay = toStatusPoint(event(ahead), judgedAt(stored, stored + 365 * 86_400_000));
    expect(first.ok).toBe(false);
    expect(replay).toEqual(first);
  });
});
