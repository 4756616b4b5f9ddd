import { describe, expect, it } from '@jest/globals';

import { formatAge, formatBitRate, formatBytes, formatCpus, formatPairs, serialize } from './format.js';

describe('serialize', () => {
  const value = { id: 'a', spec: { labels: { team: 'a' } }, list: [1, 2] };

  it('prints indented JSON', () => {
    expect(serialize(value, 'json')).toBe(`${JSON.stringify(value, null, 2)}\n`);
  });

  it('prints YAML', () => {
    expect(serialize(value, 'yaml')).toBe('id: a\nspec:\n  labels:\n    team: a\nlist:\n  - 1\n  - 2\n');
    expect(serialize([], 'yaml')).toBe('[]\n');
  });
});

describe('formatAge', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  it.each([
    ['2026-11-23T11:59:18Z', '42s'],
    ['2026-11-23T11:55:00Z', '5m'],
    ['2026-11-23T09:30:00Z', '2h30m'],
    ['2026-11-22T12:00:00Z', '1d'],
    ['2026-11-20T06:00:00Z', '3d6h'],
    ['2026-10-01T00:00:00Z', '53d'],
    ['2026-11-23T12:00:05Z', '0s'],
  ])('%s → %s', (iso, age) => {
    expect(formatAge(iso, now)).toBe(age);
  });

  it('is - when unknown', () => {
    expect(formatAge(undefined, now)).toBe('-');
    expect(formatAge('garbage', now)).toBe('-');
  });
});

describe('formatBytes, formatBitRate, formatCpus, formatPairs', () => {
  it('formats', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(4 * 1024 ** 3)).toBe('4.0 GiB');
    expect(formatBytes(1536 * 1024)).toBe('1.5 MiB');
    expect(formatBitRate(1_500_000_000)).toBe('1.5 Gbps');
    expect(formatBitRate(0)).toBe('-');
    expect(formatCpus(0.5)).toBe('0.5');
    expect(formatCpus(2)).toBe('2');
    expect(formatPairs({ b: '2', a: '1' })).toBe('a=1, b=2');
    expect(formatPairs({})).toBe('-');
  });
});
