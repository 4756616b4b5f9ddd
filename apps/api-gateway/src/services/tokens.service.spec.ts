import type { TokenEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { TokenRow } from '../store/entities.js';
import { type MirroredToken, tokenEntry, tokenMirrorPlan } from './tokens.service.js';

const row = (id: string, hash: string, extra: Partial<TokenRow> = {}): TokenRow =>
  Object.assign(new TokenRow(), {
    id,
    projectId: 'p1',
    name: id,
    role: 'read',
    labelSelector: null,
    secretHash: hash,
    version: 1,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...extra,
  } satisfies TokenRow);

describe('tokenMirrorPlan', () => {
  const a = row('a', 'h-a');
  const b = row('b', 'h-b', { labelSelector: 'team=x', version: 3 });
  const entry = (r: TokenRow, extra: Partial<TokenEntry> = {}): TokenEntry => ({
    ...tokenEntry(r),
    ...extra,
  });
  const ids = (plan: ReturnType<typeof tokenMirrorPlan>) => ({
    put: plan.put.map((r) => r.id),
    delete: plan.delete,
  });

  it.each<[string, TokenRow[], Array<[string, MirroredToken]>, { put: string[]; delete: string[] }]>([
    [
      'in step: nothing to do',
      [a, b],
      [
        ['h-a', entry(a)],
        ['h-b', entry(b)],
      ],
      { put: [], delete: [] },
    ],
    ['an entry missing is written', [a, b], [['h-a', entry(a)]], { put: ['b'], delete: [] }],
    ['an empty bucket gets every token', [a, b], [], { put: ['a', 'b'], delete: [] }],
    [
      'a stale version is written',
      [a, b],
      [
        ['h-a', entry(a)],
        ['h-b', entry(b, { version: 2 })],
      ],
      { put: ['b'], delete: [] },
    ],
    ['a changed role is written', [a], [['h-a', entry(a, { role: 'admin' })]], { put: ['a'], delete: [] }],
    [
      'a changed selector is written',
      [b],
      [['h-b', entry(b, { labelSelector: 'team=y' })]],
      { put: ['b'], delete: [] },
    ],
    [
      'a selector dropped is written',
      [b],
      [['h-b', entry(a, { tokenId: 'b', version: 3 })]],
      { put: ['b'], delete: [] },
    ],
    ['an invalid value is written', [a], [['h-a', 'invalid']], { put: ['a'], delete: [] }],
    [
      'a key without a token is deleted',
      [a],
      [
        ['h-a', entry(a)],
        ['h-z', entry(a)],
        ['h-y', 'invalid'],
      ],
      { put: [], delete: ['h-y', 'h-z'] },
    ],
    ['no tokens: every key goes', [], [['h-a', entry(a)]], { put: [], delete: ['h-a'] }],
  ])('%s', (_name, rows, mirror, expected) => {
    expect(ids(tokenMirrorPlan(rows, new Map(mirror)))).toEqual(expected);
  });
});
