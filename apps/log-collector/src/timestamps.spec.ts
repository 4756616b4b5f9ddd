import { describe, expect, it } from '@jest/globals';

import { normalizeTimestamp } from './timestamps.js';

describe('normalizeTimestamp', () => {
  it.each([
    ['2026-11-23T09:18:32.023484673Z', '2026-11-23T09:18:32.023484673Z'],
    ['2026-11-23T09:18:32.0234846Z', '2026-11-23T09:18:32.023484600Z'],
    ['2026-11-23T09:18:32Z', '2026-11-23T09:18:32.000000000Z'],
    ['2026-11-23T10:18:32.5+01:00', '2026-11-23T09:18:32.500000000Z'],
  ])('%s → %s', (input, output) => {
    expect(normalizeTimestamp(input)).toBe(output);
  });

  it('orders as strings the way the instants are ordered', () => {
    const a = normalizeTimestamp('2026-11-23T09:18:32.0234846Z') ?? '';
    const b = normalizeTimestamp('2026-11-23T09:18:32.023484673Z') ?? '';
    expect(a < b).toBe(true);
  });

  it.each(['', 'yesterday', '2026-11-23 09:18:32Z', '2026-13-99T99:99:99Z'])('rejects %j', (input) => {
    const out = normalizeTimestamp(input);
    if (out !== undefined) expect(Number.isNaN(new Date(out).getTime())).toBe(true);
  });
});
