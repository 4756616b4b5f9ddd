import { describe, expect, it } from '@jest/globals';

import { renderFields, renderTable } from './table.js';

describe('renderTable', () => {
  const columns = [
    { header: 'id', value: (r: { id: string; n: number }) => r.id },
    { header: 'count', value: (r: { id: string; n: number }) => String(r.n), right: true },
    { header: 'last', value: (r: { id: string; n: number }) => `x${r.id}` },
  ];

  it('aligns columns under upper-case headers, without trailing spaces', () => {
    expect(
      renderTable(columns, [
        { id: 'a', n: 1 },
        { id: 'long-id', n: 100 },
      ]),
    ).toBe(['ID        COUNT   LAST', 'a             1   xa', 'long-id     100   xlong-id', ''].join('\n'));
  });

  it('prints only the headers for no rows', () => {
    expect(renderTable(columns, [])).toBe('ID   COUNT   LAST\n');
  });

  it('replaces control characters so that a value cannot break the layout', () => {
    expect(renderTable([{ header: 'v', value: (r: string) => r }], ['a\nb\u001b[31m'])).toBe('V\na b [31m\n');
  });
});

describe('renderFields', () => {
  it('aligns values and leaves out missing ones', () => {
    expect(
      renderFields([
        ['Id', '1'],
        ['Missing', undefined],
        ['Long Label', 'v'],
      ]),
    ).toBe('Id:         1\nLong Label: v\n');
  });

  it('indents the continuation lines of a multi-line value', () => {
    expect(renderFields([['Env', 'A=1\nB=2']], '  ')).toBe('  Env: A=1\n       B=2\n');
  });
});
