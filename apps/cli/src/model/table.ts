/** A column of a human table: its header and how to render one row. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Right-align (numbers). */
  right?: boolean;
}

/**
 * Renders rows as aligned columns (like `ovhai app list` or `kubectl get`): upper-case headers,
 * columns separated by three spaces, no trailing spaces. Control characters in values are replaced
 * so that a value cannot break the layout or drive the terminal.
 */
export function renderTable<T>(columns: ReadonlyArray<Column<T>>, rows: readonly T[]): string {
  const cells = rows.map((row) => columns.map((c) => clean(c.value(row))));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))));
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(v)));
        if (columns[i]?.right) return pad + v;
        return i === values.length - 1 ? v : v + pad;
      })
      .join('   ')
      .replace(/\s+$/, '');
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/**
 * Renders `label: value` pairs with aligned values (`ovhai app get` style). A value spanning several
 * lines is indented under its label; `null`/`undefined` values are left out.
 */
export function renderFields(
  fields: ReadonlyArray<readonly [string, string | undefined | null]>,
  indent = '',
): string {
  const present = fields.filter((f): f is readonly [string, string] => f[1] !== undefined && f[1] !== null);
  const w = Math.max(0, ...present.map(([k]) => width(k) + 1));
  return present
    .map(([k, v]) => {
      const label = `${k}:`.padEnd(w);
      const [first = '', ...rest] = v.split('\n').map((l) => l.replace(/[\p{Cc}]/gu, ' '));
      const tail = rest.map((l) => `\n${indent}${' '.repeat(w + 1)}${l}`).join('');
      return `${indent}${label} ${first}`.replace(/\s+$/, '') + tail;
    })
    .join('\n')
    .concat(present.length ? '\n' : '');
}

/** Control characters (newlines, escapes) become spaces. */
function clean(value: string): string {
  return value.replace(/[\p{Cc}]/gu, ' ');
}

/** Display width: code points (good enough for the identifiers and ASCII a table holds). */
function width(s: string): number {
  return [...s].length;
}
