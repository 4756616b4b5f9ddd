import { describe, expect, it } from '@jest/globals';

import { ReportSequencer } from './report-seq.js';

describe('ReportSequencer', () => {
  it('counts in microseconds of the clock', () => {
    const s = new ReportSequencer(() => 1_700_000_000_123);
    expect(s.next('r1')).toBe(1_700_000_000_123_000);
  });

  it('stays strictly increasing per replica when reports come faster than the clock', () => {
    const s = new ReportSequencer(() => 5);
    expect([s.next('r1'), s.next('r1'), s.next('r1')]).toEqual([5000, 5001, 5002]);
    expect(s.next('r2')).toBe(5000);
  });

  it('follows the clock again once it moves past', () => {
    let now = 5;
    const s = new ReportSequencer(() => now);
    s.next('r1');
    s.next('r1');
    now = 6;
    expect(s.next('r1')).toBe(6000);
  });

  it('continues above the numbers of a previous agent process (restart)', () => {
    let now = 1_700_000_000_000;
    const before = new ReportSequencer(() => now);
    const last = Math.max(...Array.from({ length: 50 }, () => before.next('r1')));
    now += 1; // a restart takes at least a millisecond
    const after = new ReportSequencer(() => now);
    expect(after.next('r1')).toBeGreaterThan(last);
  });

  it('stays a safe integer for centuries', () => {
    const s = new ReportSequencer(() => Date.UTC(2200, 0, 1));
    expect(Number.isSafeInteger(s.next('r1'))).toBe(true);
  });
});
