import { describe, expect, it } from '@jest/globals';

import { SecretBox } from './secrets.js';

const KEY = 'k'.repeat(32);

describe('SecretBox', () => {
  it('opens what it sealed, for the same context only', () => {
    const box = new SecretBox(KEY);
    const sealed = box.seal('p@ss wörd', 'row-1');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('p@ss');
    expect(box.open(sealed, 'row-1')).toBe('p@ss wörd');
    expect(box.open(sealed, 'row-2')).toBeUndefined();
    // Fresh randomness each time: the same secret never seals the same way twice.
    expect(box.seal('p@ss wörd', 'row-1')).not.toBe(sealed);
  });

  it('refuses another key, a tampered value and garbage', () => {
    const sealed = new SecretBox(KEY).seal('secret', 'row-1');
    expect(new SecretBox('x'.repeat(32)).open(sealed, 'row-1')).toBeUndefined();
    const [v, iv, tag, data] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(data, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    const box = new SecretBox(KEY);
    expect(box.open([v, iv, tag, flipped.toString('base64url')].join('.'), 'row-1')).toBeUndefined();
    expect(box.open([v, iv, 'AAAA', data].join('.'), 'row-1')).toBeUndefined();
    for (const bad of ['', 'v1', 'v2.a.b.c', 'v1.a.b.c.d', `${sealed}.x`, '....'])
      expect(box.open(bad, 'row-1')).toBeUndefined();
  });
});
