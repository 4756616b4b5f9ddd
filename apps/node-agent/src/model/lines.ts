import type { LogLine } from '@gantry/contracts';

import type { LogFrame, StreamName } from '../driver/driver.js';

/** Longest line shipped, in bytes of UTF-8 (the wire allows 65 536 characters). */
export const MAX_LINE_BYTES = 65_536;
export const TRUNCATED_MARK = ' [truncated]';
const KEEP_BYTES = MAX_LINE_BYTES - Buffer.byteLength(TRUNCATED_MARK);

const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 stamp with up to nine fractional digits, as Docker writes it, normalised to UTC with
 * exactly nine digits, so that stamps compare as strings in time order. Undefined when not a stamp.
 */
export function stampKey(ts: string): string | undefined {
  const m = STAMP.exec(ts);
  if (!m) return undefined;
  const [, base, frac = '', zone] = m;
  const nanos = frac.padEnd(9, '0');
  if (zone === 'Z') return `${base}.${nanos}Z`;
  const date = new Date(`${base}${zone}`);
  if (Number.isNaN(date.getTime())) return undefined;
  return `${date.toISOString().slice(0, 19)}.${nanos}Z`;
}

/** `seconds.nanoseconds` since the epoch, the form Docker's `since` takes. Undefined when not a stamp. */
export function unixStamp(ts: string): string | undefined {
  const key = stampKey(ts);
  if (!key) return undefined;
  const seconds = Date.parse(`${key.slice(0, 19)}Z`) / 1000;
  return `${seconds}.${key.slice(20, 29)}`;
}

interface Pending {
  ts: string;
  parts: Buffer[];
  bytes: number;
  truncated: boolean;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Cuts at most `max` bytes without splitting a UTF-8 sequence (when the input is valid UTF-8). */
function cutUtf8(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = max;
  for (let i = 0; i < 3 && end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80; i++) end--;
  return buf.subarray(0, end);
}

/**
 * Turns the frames of a container's output into lines: strips Docker's stamp, joins partial frames
 * (Docker splits lines longer than 16 KiB), replaces invalid UTF-8, drops a trailing CR, and truncates
 * lines over 64 KiB (holding at most that much per stream). A frame without a stamp is taken whole,
 * stamped with the last stamp seen (or `now`). Never throws, whatever the bytes.
 */
export class LineAssembler {
  private readonly pending = new Map<StreamName, Pending>();
  private lastTs: string | undefined;

  constructor(private readonly now: () => string = () => new Date().toISOString()) {}

  push(frame: LogFrame): LogLine[] {
    const out: LogLine[] = [];
    let data = frame.data;
    let ts: string | undefined;
    const space = data.subarray(0, 41).indexOf(0x20);
    if (space > 0) {
      const candidate = data.subarray(0, space).toString('latin1');
      if (STAMP.test(candidate)) {
        ts = candidate;
        data = data.subarray(space + 1);
      }
    }
    ts ??= this.lastTs ?? this.now();
    this.lastTs = ts;
    let start = 0;
    while (start <= data.length) {
      const nl = data.indexOf(0x0a, start);
      const piece = data.subarray(start, nl === -1 ? data.length : nl);
      if (nl === -1) {
        if (piece.length) this.append(frame.stream, ts, piece);
        break;
      }
      this.append(frame.stream, ts, piece);
      out.push(this.complete(frame.stream));
      start = nl + 1;
    }
    return out;
  }

  /** The partial lines still held (the output ended without a newline). */
  end(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of [...this.pending.keys()]) out.push(this.complete(stream));
    return out;
  }

  private append(stream: StreamName, ts: string, piece: Buffer): void {
    let p = this.pending.get(stream);
    if (!p) {
      p = { ts, parts: [], bytes: 0, truncated: false };
      this.pending.set(stream, p);
    }
    if (p.truncated) return;
    const room = KEEP_BYTES + 4 - p.bytes; // a few bytes over, to cut on a character boundary later
    if (piece.length > room) {
      p.parts.push(piece.subarray(0, room));
      p.bytes += room;
      p.truncated = true;
    } else {
      p.parts.push(piece);
      p.bytes += piece.length;
    }
  }

  private complete(stream: StreamName): LogLine {
    const p = this.pending.get(stream) ?? {
      ts: this.lastTs ?? this.now(),
      parts: [],
      bytes: 0,
      truncated: false,
    };
    this.pending.delete(stream);
    let bytes: Buffer = Buffer.concat(p.parts);
    let truncated = p.truncated;
    if (bytes.length > KEEP_BYTES) {
      bytes = cutUtf8(bytes, KEEP_BYTES);
      truncated = true;
    }
    if (!truncated && bytes.length && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
    const line = decoder.decode(bytes) + (truncated ? TRUNCATED_MARK : '');
    return { ts: p.ts, stream, line };
  }
}

/** Splits whole frames (e.g. a tail of the output) into lines. */
export function framesToLines(frames: ReadonlyArray<LogFrame>): LogLine[] {
  const a = new LineAssembler();
  return [...frames.flatMap((f) => a.push(f)), ...a.end()];
}
