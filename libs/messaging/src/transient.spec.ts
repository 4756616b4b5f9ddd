import { GantryError, validationFailed } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { isTransient, transientBackoffMs } from './transient.js';

/** An error as node-postgres raises it: its SQLSTATE in `code`. */
const pgError = (code: string, message = 'database error') => Object.assign(new Error(message), { code });
/** TypeORM's QueryFailedError: the driver's error in `driverError`, its fields copied on top. */
const queryFailed = (driverError: Error) =>
  Object.assign(new Error(driverError.message), { name: 'QueryFailedError', driverError });
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

describe('isTransient', () => {
  it.each<[string, unknown, boolean]>([
    ['connection refused (errno)', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), true],
    ['connection reset', pgError('ECONNRESET'), true],
    ['a name that does not resolve for now', pgError('EAI_AGAIN'), true],
    ['connection failure, class 08', pgError('08006'), true],
    ['connection does not exist, class 08', pgError('08003'), true],
    [
      'admin shutdown (terminated backend)',
      pgError('57P01', 'terminating connection due to administrator command'),
      true,
    ],
    ['crash shutdown', pgError('57P02'), true],
    ['cannot connect now (starting up)', pgError('57P03'), true],
    ['serialization failure', pgError('40001'), true],
    ['deadlock', pgError('40P01'), true],
    ['too many connections', pgError('53300'), true],
    ['statement timeout', pgError('57014', 'canceling statement due to statement timeout'), true],
    ['the same, wrapped by TypeORM', queryFailed(pgError('57P01')), true],
    ['the same, as a cause', new Error('commit failed', { cause: pgError('08006') }), true],
    ['node-postgres: connection terminated', new Error('Connection terminated unexpectedly'), true],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect'), true],
    ['node-postgres: query timeout', new Error('Query read timeout'), true],
    ['localhost refused on every address', new AggregateError([pgError('ECONNREFUSED')], 'connect'), true],
    ['NATS timeout', named('TimeoutError', 'timeout'), true],
    ['NATS no responders', named('NoResponders', 'no responders'), true],
    ['NATS connection lost', named('ConnectionError', 'connection refused'), true],
    ['JetStream 503', Object.assign(named('JetStreamApiError', 'no stream leader'), { status: 503 }), true],
    ['a retryable GantryError', new GantryError('UNAVAILABLE', 'scheduler is not available'), true],
    ['a GantryError timeout', new GantryError('TIMEOUT', 'no answer'), true],
    ['validation failure', validationFailed([{ field: 'x', message: 'bad' }]), false],
    ['a conflict', new GantryError('CONFLICT', 'taken'), false],
    [
      'a GantryError wrapping a connection error stays what it says',
      new GantryError('CONFLICT', 'x', { cause: pgError('08006') }),
      false,
    ],
    ['unique violation', pgError('23505', 'duplicate key value violates unique constraint'), false],
    ['the same, wrapped by TypeORM', queryFailed(pgError('23505')), false],
    ['invalid text representation', pgError('22P02'), false],
    ['undefined table', pgError('42P01'), false],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')"), false],
    ['a field named timeout in a message', new Error('spec.timeout: must be positive'), false],
    ['a JetStream 400', Object.assign(named('JetStreamApiError', 'bad request'), { status: 400 }), false],
    ['a thrown string', 'ECONNREFUSED', false],
    ['null', null, false],
  ])('%s → %s', (_, error, expected) => {
    expect(isTransient(error)).toBe(expected);
  });

  it('stops on a cycle of causes', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(isTransient(a)).toBe(false);
  });
});

describe('transientBackoffMs', () => {
  it('grows 1 s, 2 s, 5 s, 10 s, then stays at 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 100].map(transientBackoffMs)).toEqual([
      1000, 1000, 2000, 5000, 10_000, 30_000, 30_000, 30_000,
    ]);
  });
});
