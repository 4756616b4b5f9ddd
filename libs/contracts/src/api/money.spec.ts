import { describe, expect, it } from '@jest/globals';

import { formatMicros } from './money.js';

describe('formatMicros: integer micro-units as exact decimals', () => {
  it.each<[number, string]>([
    [15_440_000, '15.44'],
    [12_000_000, '12.00'],
    [2_250_000, '2.25'],
    [1_930_000, '1.93'],
    [30_000, '0.03'],
    [1000, '0.001'],
    [500, '0.0005'],
    [32_167, '0.032167'],
    [1, '0.000001'],
    [0, '0.00'],
    [-1_500_000, '-1.50'],
    [Number.MAX_SAFE_INTEGER, '9007199254.740991'],
  ])('%i → %s', (micros, text) => {
    expect(formatMicros(micros)).toBe(text);
  });

  it('refuses what is not an integer', () => {
    expect(() => formatMicros(0.5)).toThrow(RangeError);
    expect(() => formatMicros(Number.NaN)).toThrow(RangeError);
  });
});
