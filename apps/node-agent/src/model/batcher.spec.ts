import { LogBatchSchema, type LogLine } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { batchId, LogBatcher } from './batcher.js';

const line = (i: number): LogLine => ({
  ts: `2026-11-23T09:00:00.${String(i).padStart(9, '0')}Z`,
  stream: 'stdout',
  line: `line ${i}`,
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LogBatcher', () => {
  it('ships batches of at most 200 lines, in order, the rest after the delay', async () => {
    const shipped: LogLine[][] = [];
    const b = new LogBatcher(async (lines) => void shipped.push(lines), { maxLines: 200, maxDelayMs: 30 });
    for (let i = 0; i < 450; i++) await b.add(line(i));
    expect(shipped.map((s) => s.length)).toEqual([200, 200]);
    await sleep(80);
    expect(shipped.map((s) => s.length)).toEqual([200, 200, 50]);
    expect(shipped.flat().map((l) => l.line)).toEqual(Array.from({ length: 450 }, (_, i) => `line ${i}`));
  });

  it('ships a few lines within the delay', async () => {
    const shipped: LogLine[][] = [];
    const b = new LogBatcher(async (lines) => void shipped.push(lines), { maxLines: 200, maxDelayMs: 20 });
    await b.add(line(1));
    await b.add(line(2));
    expect(shipped).toEqual([]);
    await sleep(60);
    expect(shipped).toEqual([[line(1), line(2)]]);
  });

  it('holds the producer back while a full batch is being shipped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new LogBatcher(() => gate, { maxLines: 2, maxDelayMs: 1000 });
    await b.add(line(1));
    let accepted = false;
    const second = b.add(line(2)).then(() => (accepted = true));
    await sleep(20);
    expect(accepted).toBe(false);
    release();
    await second;
    expect(accepted).toBe(true);
  });

  it('keeps going after a shipment throws', async () => {
    const errors: unknown[] = [];
    const shipped: string[] = [];
    let first = true;
    const b = new LogBatcher(
      async (lines) => {
        if (first) {
          first = false;
          throw new Error('boom');
        }
        shipped.push(...lines.map((l) => l.line));
      },
      { maxLines: 1, maxDelayMs: 1000 },
      (e) => errors.push(e),
    );
    await b.add(line(1));
    await b.add(line(2));
    expect(errors).toHaveLength(1);
    expect(shipped).toEqual(['line 2']);
  });
});

describe('batchId', () => {
  it('is the same for the same lines of the same replica, and only then', () => {
    const lines = [line(1), line(2)];
    expect(batchId('r1', lines)).toBe(batchId('r1', [line(1), line(2)]));
    expect(batchId('r1', lines)).not.toBe(batchId('r2', lines));
    expect(batchId('r1', lines)).not.toBe(batchId('r1', [line(1)]));
    expect(batchId('r1', lines)).not.toBe(batchId('r1', [line(1), { ...line(2), stream: 'stderr' }]));
    const id = batchId('a'.repeat(100), lines);
    expect(LogBatchSchema.parse({ id, nodeId: 'n', appId: 'a', replicaId: 'r', lines }).id).toBe(id);
  });
});
