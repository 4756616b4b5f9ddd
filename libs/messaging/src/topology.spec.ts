import { describe, expect, it } from '@jest/globals';
import type { StreamConfig } from '@nats-io/jetstream';

import { catalogStreamConfig, replicasChange, streamChanges } from './topology.js';

const S = 1_000_000_000; // ns per second
const wanted = (replicas: number): StreamConfig => catalogStreamConfig('ns', 'LOGS', replicas);
const existing = (over: Partial<StreamConfig>): StreamConfig => ({ ...wanted(1), ...over });

describe('catalogStreamConfig', () => {
  it('creates with the asked replicas and the catalog definition', () => {
    expect(wanted(3)).toMatchObject({
      name: 'NS_LOGS',
      subjects: ['ns.logs.>'],
      num_replicas: 3,
      max_age: 3 * 86_400 * S,
      duplicate_window: 120 * S,
    });
  });
});

describe('streamChanges: what a start changes in an existing stream', () => {
  it.each<[string, Partial<StreamConfig>, number, ReturnType<typeof streamChanges>]>([
    ['nothing when it matches', {}, 1, undefined],
    ['raises replicas to the setting', { num_replicas: 1 }, 3, { num_replicas: 3 }],
    ['never lowers an operator’s replicas', { num_replicas: 3 }, 1, undefined],
    ['keeps more replicas than the setting', { num_replicas: 5 }, 3, undefined],
    [
      'treats missing replicas as 1',
      { num_replicas: undefined as unknown as number },
      3,
      { num_replicas: 3 },
    ],
    [
      'adds a missing catalog subject, keeping others',
      { subjects: ['ns.extra'] },
      1,
      { subjects: ['ns.extra', 'ns.logs.>'] },
    ],
    ['keeps extra subjects', { subjects: ['ns.logs.>', 'ns.extra'] }, 1, undefined],
    ['restores the description', { description: 'mine' }, 1, { description: 'container log batches' }],
    ['raises a short duplicate window', { duplicate_window: 10 * S }, 1, { duplicate_window: 120 * S }],
    ['keeps a longer duplicate window', { duplicate_window: 600 * S }, 1, undefined],
    [
      'bounds the window by a short max_age',
      { max_age: 60 * S, duplicate_window: 10 * S },
      1,
      { duplicate_window: 60 * S },
    ],
    ['leaves an operator’s max_age alone', { max_age: 30 * 86_400 * S }, 1, undefined],
    ['leaves an operator’s limits alone', { max_bytes: 1 << 30, max_msgs: 1000 }, 1, undefined],
    [
      'changes only what it owns, together',
      { num_replicas: 1, subjects: [], max_bytes: 1 << 30 },
      3,
      { num_replicas: 3, subjects: ['ns.logs.>'] },
    ],
  ])('%s', (_what, current, replicas, expected) => {
    expect(streamChanges(existing(current), wanted(replicas))).toEqual(expected);
  });
});

describe('replicasChange', () => {
  it.each([
    [1, 1, undefined],
    [1, 3, 3],
    [3, 1, undefined],
    [3, 3, undefined],
  ])('from %i with the setting at %i: %s', (current, setting, expected) => {
    expect(replicasChange({ num_replicas: current }, setting)).toBe(expected);
  });
});
