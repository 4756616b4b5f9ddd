import {
  APP_INPUT_LIMITS,
  CreateAppInputSchema,
  ListAppsQuerySchema,
  UsageQueryInputSchema,
} from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { parseInput } from './validation.js';

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof GantryError) return `${error.status} ${error.message}`;
    throw error;
  }
  return 'no error';
};

describe('query strings are validated, naming the parameter', () => {
  it('applies the list defaults', () => {
    expect(parseInput(ListAppsQuerySchema, {})).toEqual({
      page: 1,
      size: 20,
      sort: 'createdAt',
      order: 'desc',
    });
  });

  it('parses numbers, enums, lists and dates', () => {
    expect(
      parseInput(ListAppsQuerySchema, {
        page: '2',
        size: '100',
        sort: 'status.state',
        order: 'asc',
        statusState: ['RUNNING,QUEUED', 'STOPPED'],
        labelSelector: 'team=vision',
        updatedAfter: '2026-11-23T09:00:00Z',
      }),
    ).toEqual({
      page: 2,
      size: 100,
      sort: 'status.state',
      order: 'asc',
      statusState: ['RUNNING', 'QUEUED', 'STOPPED'],
      labelSelector: 'team=vision',
      updatedAfter: '2026-11-23T09:00:00Z',
    });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ size: '101' }, '400 size: must be at most 100'],
    [{ size: '0' }, '400 size: must be at least 1'],
    [{ size: 'ten' }, '400 size: must be a whole number'],
    [{ page: '-1' }, '400 page: must be a whole number'],
    [{ page: '1e3' }, '400 page: must be a whole number'],
    [{ page: ['1', '2'] }, '400 page: must be given once'],
    [{ sort: 'colour' }, '400 sort: must be one of createdAt, updatedAt, name, status.state'],
    [{ order: 'up' }, '400 order: must be one of asc, desc'],
    [{ statusState: 'RUNNING,SLEEPING' }, '400 statusState.1: must be app states'],
    [{ labelSelector: 'team' }, '400 labelSelector: must be key=value'],
    [{ updatedAfter: 'yesterday' }, '400 updatedAfter: must be an ISO 8601 date-time'],
    [{ colour: 'blue' }, '400 colour: is not a known field'],
  ])('%j → %s', (query, expected) => {
    expect(message(() => parseInput(ListAppsQuerySchema, query))).toContain(expected);
  });

  it('checks usage periods', () => {
    expect(
      message(() =>
        parseInput(UsageQueryInputSchema, { from: '2026-11-23T10:00:00Z', to: '2026-11-23T09:00:00Z' }),
      ),
    ).toBe('400 to: must be after from');
    expect(message(() => parseInput(UsageQueryInputSchema, { appId: 'a b' }))).toBe(
      '400 appId: must be an app id',
    );
  });
});

describe('an app create body is bounded, each cap naming its field', () => {
  const create = (extra: Record<string, unknown>) =>
    message(() => parseInput(CreateAppInputSchema, { image: 'busybox:1.37', ...extra }));
  const env = (n: number, valueLength = 1) =>
    Array.from({ length: n }, (_, i) => ({ name: `V${i}`, value: 'x'.repeat(valueLength) }));

  it('accepts a body at every cap', () => {
    // 256 variables of 2-4 byte names, values filling the rest of 64 KiB exactly.
    const vars = env(APP_INPUT_LIMITS.envVars);
    const names = vars.reduce((sum, v) => sum + v.name.length, 0);
    const each = Math.floor((APP_INPUT_LIMITS.envBytes - names) / vars.length);
    for (const v of vars) v.value = 'x'.repeat(each);
    const command = Array.from({ length: APP_INPUT_LIMITS.commandArgs }, () => 'a'.repeat(256));
    const labels = Object.fromEntries(
      Array.from({ length: APP_INPUT_LIMITS.labels }, (_, i) => [`k${i}`, 'v']),
    );
    expect(create({ envVars: vars, command, labels })).toBe('no error');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['257 variables', { envVars: env(257) }, '400 envVars: must hold at most 256 variables'],
    [
      'names and values past 64 KiB',
      { envVars: env(3, 22_000) },
      '400 envVars: names and values must total at most 64 KiB (65536 bytes), not 66006 bytes',
    ],
    [
      'multi-byte values counted in UTF-8 bytes',
      {
        envVars: [
          { name: 'E', value: 'é'.repeat(16_384) },
          { name: 'F', value: 'é'.repeat(16_384) },
        ],
      },
      '400 envVars: names and values must total at most 64 KiB (65536 bytes), not 65538 bytes',
    ],
    [
      '65 arguments',
      { command: Array.from({ length: 65 }, () => 'a') },
      '400 command: must hold at most 64 arguments',
    ],
    [
      'arguments past 16 KiB',
      { command: ['sh', '-c', 'x'.repeat(8_000), 'y'.repeat(8_000), 'z'.repeat(400)] },
      '400 command: must total at most 16 KiB (16384 bytes), not 16404 bytes',
    ],
    [
      '65 labels',
      { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
      '400 labels: must hold at most 64 labels, not 65',
    ],
  ])('refuses %s', (_what, extra, expected) => {
    expect(create(extra)).toBe(expected);
  });
});
