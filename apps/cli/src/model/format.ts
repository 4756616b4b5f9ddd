import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A value as `-o json` or `-o yaml` prints it (always ending with a newline). */
export function serialize(value: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`;
  const text = stringify(value ?? null, { lineWidth: 0 });
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** How long ago, kubectl style: `42s`, `5m`, `3h`, `2d`; `-` when unknown. */
export function formatAge(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '-';
  const s = Math.max(0, Math.floor((now.getTime() - then) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 && h < 10 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 && d < 10 ? `${d}d${h % 24}h` : `${d}d`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes in binary units: `512 B`, `4.0 GiB`. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

/** A network rate in bits per second: `1.5 Gbps`. */
export function formatBitRate(bps: number | undefined): string {
  if (bps === undefined || !Number.isFinite(bps) || bps === 0) return '-';
  const units = ['bps', 'Kbps', 'Mbps', 'Gbps', 'Tbps'];
  let v = bps;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** `{a: '1', b: '2'}` → `a=1, b=2` (sorted); `-` when empty. */
export function formatPairs(record: Record<string, string> | undefined, sep = ', '): string {
  const keys = Object.keys(record ?? {}).sort();
  if (keys.length === 0) return '-';
  return keys.map((k) => `${k}=${record?.[k] ?? ''}`).join(sep);
}

/** A number of CPUs without needless decimals: `1`, `0.5`, `2.25`. */
export function formatCpus(n: number | undefined): string {
  if (n === undefined) return '-';
  return String(Math.round(n * 100) / 100);
}
