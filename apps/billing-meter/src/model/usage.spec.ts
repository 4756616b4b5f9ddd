import { type AppState, BILLED_STATES, type Rate } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { chargeMicros } from './money.js';
import { buildReport, parseWindow, QUERY_LIMITS, type UsageWindow } from './report.js';
import {
  computeRuns,
  lastUnbilledInstant,
  PERIOD_MS,
  periods,
  periodsOverlapping,
  type StatusPoint,
} from './usage.js';

const T0 = Date.parse('2026-11-02T08:00:00.000Z');
const S = 1_000;
const M = 60_000;
const H = 3_600_000;

const GPU_1EUR: Rate = { flavor: 'l40s-1-gpu', unitPriceMicros: 1_000_000, currency: 'EUR' };
const V100S: Rate = { flavor: 'ai1-1-gpu', unitPriceMicros: 1_930_000, currency: 'EUR' };
const V100S_195: Rate = { flavor: 'ai1-1-gpu', unitPriceMicros: 1_950_000, currency: 'EUR' };
const CPU: Rate = { flavor: 'ai1-1-cpu', unitPriceMicros: 30_000, currency: 'EUR' };

type Step = readonly [offsetMs: number, state: AppState, units: number, rate?: Rate];

/** An app's timeline from steps at T0 + offset; versions follow the order of the steps. */
function timeline(steps: readonly Step[], prefix = 'ev', projectId = 'p1'): StatusPoint[] {
  return steps.map(([offset, state, units, rate], i) => ({
    id: `${prefix}-${i + 1}`,
    at: T0 + offset,
    version: i + 1,
    projectId,
    state,
    allocatedUnits: units,
    rate: rate ?? CPU,
  }));
}

function usage(points: readonly StatusPoint[], asOf: number, window: UsageWindow = {}, appId = 'app') {
  return buildReport(computeRuns(appId, points, asOf), asOf, { window, withPeriods: true });
}

/** A usual life: QUEUED, INITIALIZING, SCALING at `start`, RUNNING, STOPPING at `end`, STOPPED. */
function lifecycle(start: number, end: number, units: number, rate: Rate = CPU): Step[] {
  return [
    [start - 20 * S, 'QUEUED', 0, rate],
    [start - 10 * S, 'INITIALIZING', 0, rate],
    [start, 'SCALING', units, rate],
    [start + 15 * S, 'RUNNING', units, rate],
    [end, 'STOPPING', units, rate],
    [end + 5 * S, 'STOPPED', 0, rate],
  ];
}

describe('the reference examples (acceptance tests)', () => {
  it('2 GPUs at 1 €/h for 6 h = 12 €', () => {
    const u = usage(timeline(lifecycle(0, 6 * H, 2, GPU_1EUR)), T0 + 7 * H);
    expect(u.runs).toHaveLength(1);
    expect(u.runs[0]).toMatchObject({ minutes: 360, unitMinutes: 720, chargeMicros: 12_000_000 });
    expect(u.totals).toEqual([{ currency: 'EUR', minutes: 360, unitMinutes: 720, chargeMicros: 12_000_000 }]);
  });

  it('1 GPU app, 5 h at 1 replica + 1 h at 3 replicas, at 1.93 €/h = 15.44 €', () => {
    const steps: Step[] = [
      [-30 * S, 'QUEUED', 0, V100S],
      [-20 * S, 'INITIALIZING', 0, V100S],
      [0, 'SCALING', 1, V100S],
      [20 * S, 'RUNNING', 1, V100S],
      [5 * H, 'SCALING', 3, V100S],
      [5 * H + 40 * S, 'RUNNING', 3, V100S],
      [6 * H, 'STOPPING', 3, V100S],
      [6 * H + 3 * S, 'STOPPED', 0, V100S],
    ];
    const u = usage(timeline(steps), T0 + 8 * H);
    expect(u.runs[0]).toMatchObject({ minutes: 360, unitMinutes: 300 + 180, chargeMicros: 15_440_000 });
    expect(u.totals[0]?.chargeMicros).toBe(9_650_000 + 5_790_000);
  });

  it('15 apps × 1 CPU × 5 h at 0.03 €/h = 2.25 €', () => {
    const runs = Array.from({ length: 15 }, (_, i) =>
      computeRuns(`app-${i}`, timeline(lifecycle(i * M, i * M + 5 * H, 1, CPU), `a${i}`), T0 + 6 * H),
    ).flat();
    const u = buildReport(runs, T0 + 6 * H, { window: {}, withPeriods: false });
    expect(u.runs).toHaveLength(15);
    for (const r of u.runs)
      expect(r).toMatchObject({ minutes: 300, unitMinutes: 300, chargeMicros: 150_000, periods: [] });
    expect(u.totals).toEqual([
      { currency: 'EUR', minutes: 4500, unitMinutes: 4500, chargeMicros: 2_250_000 },
    ]);
  });

  it('2 × V100S, 1 replica, 10 h at 1.95 €/h = 39 €', () => {
    const u = usage(timeline(lifecycle(0, 10 * H, 2, V100S_195)), T0 + 11 * H);
    expect(u.totals[0]?.chargeMicros).toBe(39_000_000);
  });
});

describe('runs and periods', () => {
  it('bills an app RUNNING for 61 seconds 2 minutes', () => {
    const u = usage(
      timeline([
        [0, 'RUNNING', 2],
        [61 * S, 'STOPPING', 2],
      ]),
      T0 + H,
    );
    expect(u.runs).toEqual([
      {
        runId: `app:${T0}`,
        appId: 'app',
        projectId: 'p1',
        flavor: 'ai1-1-cpu',
        unitPriceMicros: 30_000,
        currency: 'EUR',
        start: new Date(T0).toISOString(),
        end: new Date(T0 + 61 * S).toISOString(),
        minutes: 2,
        unitMinutes: 4,
        chargeMicros: 2_000,
        periods: [
          { index: 0, start: iso(0), end: iso(M), quantity: 2, chargeMicros: 1_000, open: false },
          { index: 1, start: iso(M), end: iso(2 * M), quantity: 2, chargeMicros: 1_000, open: false },
        ],
      },
    ]);
  });

  it.each([
    ['exactly 60 s', 60 * S, 1],
    ['60.001 s', 60 * S + 1, 2],
    ['1 ms', 1, 1],
    ['119.999 s', 120 * S - 1, 2],
    ['120 s', 120 * S, 2],
  ])('bills a run of %s (%i ms) as %i commenced minute(s)', (_what, length, minutes) => {
    const u = usage(
      timeline([
        [0, 'RUNNING', 1],
        [length, 'STOPPED', 0],
      ]),
      T0 + H,
    );
    expect(u.runs.map((r) => r.minutes)).toEqual([minutes]);
  });

  it('bills a stopped app nothing, however long it stays stopped', () => {
    const steps: Step[] = [...lifecycle(0, 10 * M, 1)];
    const at = (asOf: number) => usage(timeline(steps), asOf);
    expect(at(T0 + 11 * M)).toEqual({ ...at(T0 + 400 * H), asOf: iso(11 * M) });
    expect(at(T0 + 400 * H).totals).toEqual([
      { currency: 'EUR', minutes: 10, unitMinutes: 10, chargeMicros: 5_000 },
    ]);
    expect(usage(timeline([[0, 'STOPPED', 0]]), T0 + H)).toEqual({ asOf: iso(H), runs: [], totals: [] });
  });

  it('does not bill QUEUED, INITIALIZING, STOPPING, STOPPED, FAILED, ERROR or DELETING time', () => {
    const steps: Step[] = [
      [0, 'QUEUED', 0],
      [5 * M, 'INITIALIZING', 0],
      [10 * M, 'SCALING', 1],
      [10 * M + 30 * S, 'RUNNING', 1],
      [15 * M, 'STOPPING', 1],
      [16 * M, 'STOPPED', 0],
      [20 * M, 'QUEUED', 0],
      [21 * M, 'INITIALIZING', 4],
      [22 * M, 'FAILED', 4],
      [23 * M, 'DELETING', 4],
      [24 * M, 'ERROR', 4],
    ];
    const u = usage(timeline(steps), T0 + H);
    expect(u.runs.map((r) => [r.start, r.end, r.minutes])).toEqual([[iso(10 * M), iso(15 * M), 5]]);
    for (const state of [
      'QUEUED',
      'INITIALIZING',
      'STOPPING',
      'STOPPED',
      'FAILED',
      'ERROR',
      'DELETING',
      'DELETED',
    ] as const)
      expect(BILLED_STATES.has(state)).toBe(false);
  });

  it('bills SCALING like RUNNING, and RUNNING ⇄ SCALING stays one run', () => {
    const steps: Step[] = [
      [0, 'SCALING', 1],
      [30 * S, 'RUNNING', 1],
      [3 * M, 'SCALING', 2],
      [3 * M + 10 * S, 'RUNNING', 2],
      [5 * M, 'STOPPING', 2],
    ];
    const u = usage(timeline(steps), T0 + H);
    expect(u.runs).toHaveLength(1);
    expect(u.runs[0]?.periods.map((p) => p.quantity)).toEqual([1, 1, 1, 2, 2]);
  });

  it('bills an app scaled to zero replicas nothing while it stays RUNNING at zero, and again once woken', () => {
    const steps: Step[] = [
      [0, 'RUNNING', 1],
      [2 * M + 10 * S, 'SCALING', 1],
      [2 * M + 20 * S, 'RUNNING', 0],
      [10 * M + 30 * S, 'SCALING', 1],
      [10 * M + 40 * S, 'RUNNING', 1],
      [12 * M, 'STOPPING', 1],
    ];
    const u = usage(timeline(steps), T0 + H);
    const quantities = u.runs.flatMap((r) => r.periods.map((p) => p.quantity));
    // The minute it scaled down in and the one it woke in are billed; the 7 minutes at zero are not.
    expect(quantities).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(u.totals[0]).toMatchObject({ unitMinutes: 5, chargeMicros: 2_500 });
  });

  it.each<[string, Step[], number[]]>([
    [
      'scale-up mid-period bills the higher quantity for the whole period',
      [
        [0, 'RUNNING', 1],
        [90 * S, 'SCALING', 3],
        [180 * S, 'STOPPED', 0],
      ],
      [1, 3, 3],
    ],
    [
      'scale-down mid-period keeps the quantity carried in',
      [
        [0, 'RUNNING', 3],
        [90 * S, 'SCALING', 1],
        [180 * S, 'STOPPED', 0],
      ],
      [3, 3, 1],
    ],
    [
      'a change exactly at a period start belongs to that period (up)',
      [
        [0, 'RUNNING', 1],
        [60 * S, 'SCALING', 3],
        [180 * S, 'STOPPED', 0],
      ],
      [1, 3, 3],
    ],
    [
      'a change exactly at a period start belongs to that period (down)',
      [
        [0, 'RUNNING', 3],
        [60 * S, 'SCALING', 1],
        [180 * S, 'STOPPED', 0],
      ],
      [3, 1, 1],
    ],
    [
      'a short spike is billed for its whole period only',
      [
        [0, 'RUNNING', 1],
        [70 * S, 'SCALING', 5],
        [80 * S, 'RUNNING', 1],
        [240 * S, 'STOPPED', 0],
      ],
      [1, 5, 1, 1],
    ],
    [
      'scale-to-zero bills 0',
      [
        [0, 'RUNNING', 0],
        [10 * M, 'STOPPED', 0],
      ],
      Array<number>(10).fill(0),
    ],
    [
      'waking from zero bills from the period it woke in',
      [
        [0, 'RUNNING', 0],
        [150 * S, 'SCALING', 2],
        [170 * S, 'RUNNING', 2],
        [200 * S, 'RUNNING', 0],
        [300 * S, 'STOPPED', 0],
      ],
      [0, 0, 2, 2, 0],
    ],
    [
      'units held at the stop instant are not billed after it',
      [
        [0, 'RUNNING', 1],
        [60 * S, 'STOPPING', 9],
        [70 * S, 'STOPPED', 0],
      ],
      [1],
    ],
  ])('%s', (_what, steps, quantities) => {
    const u = usage(timeline(steps), T0 + H);
    expect(u.runs).toHaveLength(1);
    expect(u.runs[0]?.periods.map((p) => p.quantity)).toEqual(quantities);
    expect(u.runs[0]?.unitMinutes).toBe(quantities.reduce((a, b) => a + b, 0));
  });

  it('makes two runs of a stop and a start within the same minute', () => {
    const steps: Step[] = [
      [0, 'RUNNING', 1],
      [20 * S, 'STOPPING', 1],
      [25 * S, 'STOPPED', 0],
      [30 * S, 'QUEUED', 0],
      [35 * S, 'INITIALIZING', 0],
      [40 * S, 'SCALING', 1],
      [100 * S, 'STOPPING', 1],
    ];
    const u = usage(timeline(steps), T0 + H);
    expect(u.runs.map((r) => [r.runId, r.minutes])).toEqual([
      [`app:${T0}`, 1],
      [`app:${T0 + 40 * S}`, 1],
    ]);
    expect(u.totals[0]?.minutes).toBe(2);
  });

  it('lets only the last of several points at one instant take effect', () => {
    // 5 units held for no time at all: not billed. A run that starts and ends at one instant: none.
    const u = usage(
      timeline([
        [0, 'RUNNING', 1],
        [30 * S, 'SCALING', 5],
        [30 * S, 'RUNNING', 1],
        [2 * M, 'STOPPED', 0],
        [3 * M, 'RUNNING', 2],
        [3 * M, 'STOPPED', 0],
      ]),
      T0 + H,
    );
    expect(u.runs.map((r) => r.periods.map((p) => p.quantity))).toEqual([[1, 1]]);
  });

  it('ignores events stamped after asOf', () => {
    const points = timeline([
      [0, 'RUNNING', 1],
      [10 * M, 'STOPPED', 0],
      [20 * M, 'RUNNING', 1],
    ]);
    expect(usage(points, T0 + 5 * M + 1).runs).toMatchObject([{ minutes: 6 }]);
    expect(usage(points, T0 + 5 * M + 1).runs[0]?.end).toBeUndefined();
    expect(usage(points, T0 + 15 * M).runs).toMatchObject([{ minutes: 10, end: iso(10 * M) }]);
  });

  it('splits a run whose rate changes into runs at each rate', () => {
    const dearer: Rate = { ...CPU, unitPriceMicros: 60_000 };
    const u = usage(
      timeline([
        [0, 'RUNNING', 1, CPU],
        [90 * S, 'RUNNING', 1, dearer],
        [240 * S, 'STOPPED', 0, dearer],
      ]),
      T0 + H,
    );
    expect(u.runs.map((r) => [r.runId, r.unitPriceMicros, r.minutes, r.chargeMicros])).toEqual([
      [`app:${T0}`, 30_000, 2, 1_000],
      [`app:${T0 + 90 * S}`, 60_000, 3, 3_000],
    ]);
  });

  it('splits a run whose project changes, and bills each part to its project', () => {
    const points = [
      ...timeline([[0, 'RUNNING', 1]], 'x', 'p1'),
      ...timeline(
        [
          [0, 'RUNNING', 1],
          [2 * M, 'RUNNING', 1],
          [4 * M, 'STOPPED', 0],
        ],
        'y',
        'p2',
      ).slice(1),
    ].map((p, i) => ({ ...p, version: i + 1 }));
    const runs = computeRuns('app', points, T0 + H);
    expect(runs.map((r) => [r.projectId, r.start - T0, r.periodCount])).toEqual([
      ['p1', 0, 2],
      ['p2', 2 * M, 2],
    ]);
    const p2 = buildReport(runs, T0 + H, { window: {}, withPeriods: false, projectId: 'p2' });
    expect(p2.runs.map((r) => r.projectId)).toEqual(['p2']);
  });
});

describe('an open run', () => {
  const points = timeline([
    [0, 'SCALING', 2],
    [20 * S, 'RUNNING', 2],
  ]);

  it.each([
    [0, 1],
    [59_999, 1],
    [60_000, 2],
    [5 * M + 1, 6],
  ])('at asOf = start + %i ms has %i period(s), the last one open', (offset, count) => {
    const u = usage(points, T0 + offset);
    const run = u.runs[0];
    expect(run?.end).toBeUndefined();
    expect(run?.periods).toHaveLength(count);
    expect(run?.periods.map((p) => p.open)).toEqual([...Array<boolean>(count - 1).fill(false), true]);
    expect(run?.chargeMicros).toBe(count * 1_000);
  });

  it('keeps accruing while no event arrives', () => {
    const charges = [1, 2, 10, 60].map((m) => usage(points, T0 + m * M).totals[0]?.chargeMicros ?? 0);
    expect(charges).toEqual([2_000, 3_000, 11_000, 61_000]);
  });
});

describe('replays, duplicates and disorder', () => {
  const steps: Step[] = [
    [0, 'QUEUED', 0],
    [10 * S, 'INITIALIZING', 0],
    [20 * S, 'SCALING', 2],
    [50 * S, 'RUNNING', 2],
    [4 * M, 'SCALING', 4],
    [4 * M + 30 * S, 'RUNNING', 4],
    [9 * M + 5 * S, 'STOPPING', 4],
    [9 * M + 9 * S, 'STOPPED', 0],
    [12 * M, 'QUEUED', 0],
    [12 * M + 1, 'SCALING', 1],
  ];
  const points = timeline(steps);
  const expected = usage(points, T0 + 30 * M);

  it.each([
    ['reversed', [...points].reverse()],
    ['rotated', [...points.slice(4), ...points.slice(0, 4)]],
    ['every point twice', [...points, ...points]],
    [
      'duplicates out of order',
      [points[3], ...points, points[0], points[7], points[3]].filter((p) => p !== undefined),
    ],
    ['interleaved', points.filter((_, i) => i % 2 === 1).concat(points.filter((_, i) => i % 2 === 0))],
  ])('gives the same usage when the stream is %s', (_what, shuffled) => {
    expect(usage(shuffled, T0 + 30 * M)).toEqual(expected);
  });

  it('orders points by time, not by version, and uses version only within an instant', () => {
    // A point stamped earlier but numbered later still takes effect at its own instant.
    const p = timeline([
      [0, 'RUNNING', 1],
      [3 * M, 'STOPPED', 0],
    ]);
    const late = { ...p[0], id: 'late', at: T0 + 90 * S, version: 9, allocatedUnits: 2 } as StatusPoint;
    expect(usage([...p, late], T0 + H).runs[0]?.periods.map((x) => x.quantity)).toEqual([1, 2, 2]);
  });
});

describe('windows', () => {
  const points = timeline(lifecycle(0, 6 * H, 2, GPU_1EUR));

  it.each<[string, UsageWindow, number, number]>([
    ['the whole run', {}, 360, 12_000_000],
    ['one hour inside', { from: T0 + 2 * H, to: T0 + 3 * H }, 60, 2_000_000],
    [
      'a window starting mid-period includes that period',
      { from: T0 + 2 * H + 30 * S, to: T0 + 3 * H },
      60,
      2_000_000,
    ],
    [
      'a window ending mid-period includes that period',
      { from: T0 + 2 * H, to: T0 + 3 * H + 1 },
      61,
      2_033_333,
    ],
    ['before the run', { from: T0 - 5 * H, to: T0 }, 0, 0],
    ['after the run', { from: T0 + 6 * H, to: T0 + 9 * H }, 0, 0],
    ['from only', { from: T0 + 5 * H }, 60, 2_000_000],
    ['to only', { to: T0 + H }, 60, 2_000_000],
  ])('%s', (_what, window, minutes, charge) => {
    const u = usage(points, T0 + 8 * H, window);
    expect(u.runs.reduce((n, r) => n + r.periods.length, 0)).toBe(minutes);
    expect(u.totals.reduce((n, t) => n + t.minutes, 0)).toBe(minutes);
    expect(u.totals.reduce((n, t) => n + t.chargeMicros, 0)).toBe(charge);
    if (minutes === 0) expect(u.runs).toEqual([]);
  });

  it('includes a closed run’s last period when the window starts after the run ended but within it', () => {
    const p = timeline([
      [0, 'RUNNING', 1],
      [61 * S, 'STOPPED', 0],
    ]);
    const run = computeRuns('app', p, T0 + H)[0];
    if (!run) throw new Error('no run');
    expect(periodsOverlapping(run, T0 + 100 * S, undefined)).toEqual({ from: 1, to: 2 });
  });

  it('refuses a window over 400 days, or one ending before it starts', () => {
    const asOf = T0;
    expect(() => parseWindow({ from: iso(-401 * 24 * H) }, asOf)).toThrow(/at most 400 days/);
    expect(() => parseWindow({ from: iso(0), to: iso(401 * 24 * H) }, asOf)).toThrow(GantryError);
    expect(() => parseWindow({ from: iso(H), to: iso(0) }, asOf)).toThrow(/to: must not be before from/);
    expect(parseWindow({ from: iso(-400 * 24 * H) }, asOf)).toEqual({ from: T0 - 400 * 24 * H });
    expect(parseWindow({ to: iso(0) }, asOf)).toEqual({ to: T0 });
    expect(parseWindow({}, asOf)).toEqual({});
  });
});

describe('money', () => {
  it.each([
    [1n, 30, 1n],
    [1n, 29, 0n],
    [1n, 89, 1n],
    [1n, 90, 2n],
    [3n, 30, 2n],
    [720n, 1_000_000, 12_000_000n],
    [0n, 1_000_000, 0n],
    [10n ** 12n, 1_000_000_000_000, 16_666_666_666_666_666_666_667n],
  ])('%s unit-minutes at %i µ/unit-hour cost %s µ (half up)', (units, price, charge) => {
    expect(chargeMicros(units, price)).toBe(charge);
  });

  it('rounds a run once, not period by period', () => {
    // Three minutes at 30 µ/h: 1.5 µ for the run, i.e. 2; the periods are 0.5 µ each, i.e. 1 each.
    const tiny: Rate = { ...CPU, unitPriceMicros: 30 };
    const u = usage(
      timeline([
        [0, 'RUNNING', 1, tiny],
        [3 * M, 'STOPPED', 0, tiny],
      ]),
      T0 + H,
    );
    expect(u.runs[0]?.chargeMicros).toBe(2);
    expect(u.runs[0]?.periods.map((p) => p.chargeMicros)).toEqual([1, 1, 1]);
    expect(u.totals[0]?.chargeMicros).toBe(2);
  });

  it('keeps totals per currency', () => {
    const usd: Rate = { flavor: 'ai1-1-cpu', unitPriceMicros: 60_000, currency: 'USD' };
    const runs = [
      ...computeRuns(
        'a',
        timeline(
          [
            [0, 'RUNNING', 1],
            [2 * M, 'STOPPED', 0],
          ],
          'a',
        ),
        T0 + H,
      ),
      ...computeRuns(
        'b',
        timeline(
          [
            [0, 'RUNNING', 2, usd],
            [M, 'STOPPED', 0, usd],
          ],
          'b',
        ),
        T0 + H,
      ),
      ...computeRuns(
        'c',
        timeline(
          [
            [M, 'RUNNING', 1],
            [2 * M, 'STOPPED', 0],
          ],
          'c',
        ),
        T0 + H,
      ),
    ];
    expect(buildReport(runs, T0 + H, { window: {}, withPeriods: false }).totals).toEqual([
      { currency: 'EUR', minutes: 3, unitMinutes: 3, chargeMicros: 1_500 },
      { currency: 'USD', minutes: 1, unitMinutes: 2, chargeMicros: 2_000 },
    ]);
  });

  it('refuses to answer what a JSON number cannot hold exactly', () => {
    const huge: Rate = { ...CPU, unitPriceMicros: 1_000_000_000_000 };
    const asOf = T0 + 400 * 24 * H;
    const runs = computeRuns('app', timeline([[0, 'RUNNING', 100_000, huge]]), asOf);
    expect(() => buildReport(runs, asOf, { window: {}, withPeriods: false })).toThrow(
      /a charge \(\d+\) is too large to represent exactly/,
    );
  });
});

describe('bounds on a reply', () => {
  it('refuses to list more periods than a reply may hold, but answers without periods', () => {
    const points = timeline([[0, 'RUNNING', 1]]);
    const asOf = T0 + QUERY_LIMITS.maxPeriods * M;
    expect(() => usage(points, asOf)).toThrow(/periods: false/);
    const runs = computeRuns('app', points, asOf);
    const u = buildReport(runs, asOf, { window: {}, withPeriods: false });
    expect(u.runs[0]).toMatchObject({ minutes: QUERY_LIMITS.maxPeriods + 1, periods: [] });
  });

  it('refuses more runs than a reply may hold', () => {
    const steps: Step[] = [];
    for (let i = 0; i <= QUERY_LIMITS.maxRuns; i++)
      steps.push([i * M, 'RUNNING', 1], [i * M + S, 'STOPPED', 0]);
    expect(() =>
      buildReport(computeRuns('app', timeline(steps), T0 + 1000 * H), T0, { window: {}, withPeriods: false }),
    ).toThrow(/runs match/);
  });
});

describe('lastUnbilledInstant', () => {
  const steps: Step[] = [
    [0, 'RUNNING', 1],
    [5 * M, 'STOPPING', 1],
    [6 * M, 'STOPPED', 0],
    [7 * M, 'RUNNING', 2],
    [8 * M, 'STOPPED', 0],
    [8 * M, 'RUNNING', 3], // same instant, later: the app never stopped at 8 min
  ];
  const points = timeline(steps);

  it.each([
    [4 * M, undefined],
    [5 * M, 5 * M],
    [6 * M + 30 * S, 6 * M],
    [9 * M, 6 * M],
  ])('at start + %i ms is %s', (t, expected) => {
    expect(lastUnbilledInstant(points, T0 + t)).toBe(expected === undefined ? undefined : T0 + expected);
  });

  it('is a safe place to start loading a timeline from', () => {
    for (let t = 0; t <= 12 * M; t += 20 * S) {
      const anchor = lastUnbilledInstant(points, T0 + t);
      if (anchor === undefined) continue;
      const all = computeRuns('app', points, T0 + 12 * M).filter((r) => (r.end ?? Infinity) > anchor);
      const fromAnchor = computeRuns(
        'app',
        points.filter((p) => p.at >= anchor),
        T0 + 12 * M,
      );
      expect(fromAnchor).toEqual(all);
    }
  });
});

describe('the block computation', () => {
  /** The definition, minute by minute: highest units held at any instant of each period. */
  function bruteForce(points: StatusPoint[], asOf: number): number[][] {
    const t = [...points].filter((p) => p.at <= asOf).sort((a, b) => a.at - b.at || a.version - b.version);
    const eff = t.filter((p, i) => t[i + 1]?.at !== p.at);
    const out: number[][] = [];
    let i = 0;
    while (i < eff.length) {
      const first = eff[i];
      if (!first || !BILLED_STATES.has(first.state)) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < eff.length && BILLED_STATES.has((eff[j] as StatusPoint).state)) j++;
      const start = first.at;
      const end = eff[j]?.at;
      const count =
        end === undefined ? Math.floor((asOf - start) / PERIOD_MS) + 1 : Math.ceil((end - start) / PERIOD_MS);
      const inRun = eff.slice(i, j);
      const qs: number[] = [];
      for (let k = 0; k < count; k++) {
        const ps = start + k * PERIOD_MS;
        const pe = Math.min(ps + PERIOD_MS, end ?? Infinity);
        const carried = [...inRun].reverse().find((p) => p.at <= ps) as StatusPoint;
        let q = carried.allocatedUnits;
        for (const p of inRun) if (p.at > ps && p.at < pe) q = Math.max(q, p.allocatedUnits);
        qs.push(q);
      }
      out.push(qs);
      i = j;
    }
    return out;
  }

  it('agrees with the definition on random timelines', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const states: AppState[] = ['RUNNING', 'SCALING', 'RUNNING', 'STOPPED', 'QUEUED'];
    for (let round = 0; round < 300; round++) {
      const steps: Step[] = [];
      let at = 0;
      for (let k = 0; k < 1 + rand(12); k++) {
        at += [0, 1, 59_999, 60_000, 30_000, 150_000, rand(400_000)][rand(7)] ?? 0;
        steps.push([at, states[rand(states.length)] ?? 'RUNNING', rand(6)]);
      }
      const points = timeline(steps);
      const asOf = T0 + at + rand(300_000);
      const runs = computeRuns('app', points, asOf);
      expect(runs.map((r) => [...periods(r)].map((p) => p.quantity))).toEqual(bruteForce(points, asOf));
      for (const r of runs) {
        expect(r.blocks[0]?.from).toBe(0);
        expect(r.blocks[r.blocks.length - 1]?.to).toBe(r.periodCount);
      }
    }
  });
});

function iso(offset: number): string {
  return new Date(T0 + offset).toISOString();
}
