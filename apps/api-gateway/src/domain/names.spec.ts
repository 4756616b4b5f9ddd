import { describe, expect, it } from '@jest/globals';

import { generateAppName } from './names.js';

describe('generateAppName', () => {
  it('is adjective-noun-4hex', () => {
    for (let i = 0; i < 200; i++) expect(generateAppName()).toMatch(/^[a-z]+-[a-z]+-[0-9a-f]{4}$/);
  });

  it('is determined by its random bytes', () => {
    const bytes = (b: number[]) => () => Uint8Array.from(b);
    expect(generateAppName(bytes([0, 0, 0xab, 0xcd]))).toBe('amber-badger-abcd');
    expect(generateAppName(bytes([1, 1, 0, 1]))).toBe('bold-beacon-0001');
    expect(generateAppName(bytes([255, 255, 255, 255]))).toMatch(/^[a-z]+-[a-z]+-ffff$/);
  });

  it('varies', () => {
    expect(new Set(Array.from({ length: 50 }, () => generateAppName())).size).toBeGreaterThan(40);
  });
});
