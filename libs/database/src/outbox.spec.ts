import type { MessageBus } from '@gantry/messaging';
import { describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';

import { Outbox, type OutboxEntry } from './outbox.js';

// encode touches neither the database nor the bus.
const outbox = new Outbox({} as DataSource, {} as MessageBus);

const list = (generation: number): OutboxEntry => ({
  kind: 'kv-put',
  bucket: 'assignments',
  key: 'n1',
  value: { nodeId: 'n1', generation, updatedAt: '2026-11-23T10:00:00.000Z', replicas: [] },
});

describe('Outbox.encode', () => {
  it('encodes messages in order as rows of kind, target, key and payload', () => {
    const rows = JSON.parse(
      outbox.encode([list(1), { kind: 'kv-delete', bucket: 'routes', key: 'a' }, list(2)]),
    ) as unknown[];
    expect(rows).toEqual([
      {
        kind: 'kv-put',
        target: 'assignments',
        key: 'n1',
        payload: expect.objectContaining({ generation: 1 }),
      },
      { kind: 'kv-delete', target: 'routes', key: 'a', payload: null },
      {
        kind: 'kv-put',
        target: 'assignments',
        key: 'n1',
        payload: expect.objectContaining({ generation: 2 }),
      },
    ]);
  });

  it('refuses a message that breaks its contract, unless it is not among those it is told to check', () => {
    const broken = list(-1);
    expect(() => outbox.encode([broken])).toThrow(/generation/);
    expect(() => outbox.encode([broken], (e) => e.kind === 'kv-put')).toThrow(/generation/);
    expect(JSON.parse(outbox.encode([broken], (e) => e.kind === 'event'))).toHaveLength(1);
  });
});
