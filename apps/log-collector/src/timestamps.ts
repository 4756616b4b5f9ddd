/**
 * Docker stamps lines in RFC 3339 with up to nine fractional digits, trailing zeros trimmed
 * ("…:32.0234846Z"). Normalised to exactly nine digits in UTC, stamps sort as strings in time order.
 * Returns undefined for anything that is not such a stamp.
 */
export function normalizeTimestamp(ts: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return undefined;
  const [, base, frac = '', zone] = m;
  const nanos = frac.padEnd(9, '0');
  if (zone === 'Z') return `${base}.${nanos}Z`;
  const date = new Date(`${base}${zone}`);
  if (Number.isNaN(date.getTime())) return undefined;
  return `${date.toISOString().slice(0, 19)}.${nanos}Z`;
}
