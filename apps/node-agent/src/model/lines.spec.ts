import { LogLineSchema } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import type { LogFrame } from '../driver/driver.js';
import { framesToLines, LineAssembler, MAX_LINE_BYTES, stampKey, TRUNCATED_MARK, unixStamp } from './lines.js';

const T1 = '2026-11-23T09:00:00.123456789Z';
const T2 = '2026-11-23T09:00:00.2Z';
const T3 = '2026-11-23T09:00:01Z';
const out = (ts: string, text: string | Buffer): LogFrame => ({
  stream: 'stdout',
  data: Buffer.concat([Buffer.from(`${ts} `), Buffer.isBuffer(text) ? text : Buffer.from(text)]),
});
const err = (ts: string, text: string): LogFrame => ({ ...out(ts, text), stream: 'stderr' });

describe('LineAssembler', () => {
  it('turns stamped frames into lines of each stream', () => {
    const lines = framesToLines([out(T1, 'hello\n'), err(T2, 'oops\n'), out(T3, '\n')]);
    expect(lines).toEqual([
      { ts: T1, stream: 'stdout', line: 'hello' },
      { ts: T2, stream: 'stderr', line: 'oops' },
      { ts: T3, stream: 'stdout', line: '' },
    ]);
  });

  it('joins the partial frames Docker makes of a long line, keeping the first stamp', () => {
    const a = new LineAssembler();
    expect(a.push(out(T1, 'first half, '))).toEqual([]);
    expect(a.push(err(T2, 'an error\n'))).toEqual([{ ts: T2, stream: 'stderr', line: 'an error' }]);
    expect(a.push(out(T3, 'second half\n'))).toEqual([{ ts: T1, stream: 'stdout', line: 'first half, second half' }]);
  });

  it('keeps a character split across frames whole, and replaces invalid UTF-8', () => {
    const e = Buffer.from('é'); // c3 a9
    const a = new LineAssembler();
    a.push(out(T1, Buffer.concat([Buffer.from('caf'), e.subarray(0, 1)])));
    expect(a.push(out(T2, Buffer.concat([e.subarray(1), Buffer.from('\n')])))[0]?.line).toBe('café');
    expect(a.push(out(T3, Buffer.from([0xff, 0xfe, 0x61, 0x0a])))[0]?.line).toBe('\uFFFD\uFFFDa');
  });

  it('truncates a line over 64 KiB, on a character boundary, and goes on with the next', () => {
    const a = new LineAssembler();
    const chunk = 'é'.repeat(8192); // 16 KiB of two-byte characters, as Docker splits
    const lines: ReturnType<LineAssembler['push']> = [];
    for (let i = 0; i < 6; i++) lines.push(...a.push(out(T1, chunk)));
    lines.push(...a.push(out(T2, 'tail of the long line\n')));
    lines.push(...a.push(out(T3, 'next\n')));
    expect(lines).toHaveLength(2);
    const [long, next] = lines;
    expect(long?.line.endsWith(TRUNCATED_MARK)).toBe(true);
    expect(long?.line).not.toContain('\uFFFD');
    expect(Buffer.byteLength(long?.line ?? '')).toBeLessThanOrEqual(MAX_LINE_BYTES);
    expect(next).toEqual({ ts: T3, stream: 'stdout', line: 'next' });
    for (const l of lines) expect(LogLineSchema.parse(l)).toEqual(l);
  });

  it('drops the CR of CRLF, splits a frame holding several lines, and flushes a last partial line', () => {
    const a = new LineAssembler();
    expect(a.push(out(T1, 'one\r\ntwo\nthr'))).toEqual([
      { ts: T1, stream: 'stdout', line: 'one' },
      { ts: T1, stream: 'stdout', line: 'two' },
    ]);
    expect(a.end()).toEqual([{ ts: T1, stream: 'stdout', line: 'thr' }]);
    expect(a.end()).toEqual([]);
  });

  it('stamps a frame without a stamp with the last one seen, or now', () => {
    const a = new LineAssembler(() => '2026-01-01T00:00:00.000Z');
    expect(a.push({ stream: 'stdout', data: Buffer.from('raw tty output\n') })).toEqual([
      { ts: '2026-01-01T00:00:00.000Z', stream: 'stdout', line: 'raw tty output' },
    ]);
    a.push(out(T2, 'x\n'));
    expect(a.push({ stream: 'stderr', data: Buffer.from('no stamp\n') })[0]?.ts).toBe(T2);
  });

  it('never throws on hostile bytes', () => {
    const a = new LineAssembler();
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: (i * 7919) % 3000 }, (_, j) => (i * 31 + j * 17) % 256));
      expect(() => a.push({ stream: i % 2 ? 'stdout' : 'stderr', data: junk })).not.toThrow();
    }
    for (const l of a.end()) expect(LogLineSchema.safeParse(l).success).toBe(true);
  });
});

describe('stamps', () => {
  it('normalise to nine digits in UTC so that they sort as strings', () => {
    expect(stampKey('2026-11-23T09:00:00.2Z')).toBe('2026-11-23T09:00:00.200000000Z');
    expect(stampKey('2026-11-23T10:00:00.5+01:00')).toBe('2026-11-23T09:00:00.500000000Z');
    expect(stampKey('yesterday')).toBeUndefined();
    expect([T3, T1, T2].map((t) => stampKey(t)).sort()).toEqual([T1, T2, T3].map((t) => stampKey(t)));
  });

  it("become Docker's since= form", () => {
    expect(unixStamp('2026-11-23T09:00:00.123456789Z')).toBe('1795424400.123456789');
    expect(unixStamp('1970-01-01T00:00:01Z')).toBe('1.000000000');
    expect(unixStamp('bad')).toBeUndefined();
  });
});
