import { ListAppsQuerySchema, UsageQueryInputSchema } from '@gantry/contracts';
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
