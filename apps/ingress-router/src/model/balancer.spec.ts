import type { RouteEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import {
  afterAttempt,
  type AttemptFailure,
  type EndpointHealth,
  isEjected,
  mayRetry,
  serving,
  tryOrder,
  type Upstream,
} from './balancer.js';

const endpoint = (id: string, ports: Record<string, number>, address = '10.0.0.1') => ({
  replicaId: id,
  nodeId: 'n1',
  address,
  ports,
});

function route(extra: Partial<RouteEntry>): RouteEntry {
  return {
    appId: 'app1',
    projectId: 'p1',
    version: 1,
    updatedAt: '2026-11-23T09:00:00Z',
    state: 'RUNNING',
    unsecureHttp: true,
    labels: {},
    httpPort: 8080,
    ports: [8080, 9000],
    endpoints: [],
    ...extra,
  };
}

describe('serving', () => {
  it('lists the replicas publishing the wanted port, with their host port', () => {
    const r = route({
      endpoints: [
        endpoint('r1', { '8080': 32001, '9000': 32002 }),
        endpoint('r2', { '8080': 32003 }, '10.0.0.2'),
      ],
    });
    expect(serving(r, 8080)).toEqual({
      ok: true,
      upstreams: [
        { replicaId: 'r1', nodeId: 'n1', address: '10.0.0.1', port: 32001 },
        { replicaId: 'r2', nodeId: 'n1', address: '10.0.0.2', port: 32003 },
      ],
    });
    expect(serving(r, 9000)).toMatchObject({ ok: true, upstreams: [{ replicaId: 'r1', port: 32002 }] });
  });

  it.each<[RouteEntry['state'], number | undefined]>([
    ['QUEUED', 5],
    ['INITIALIZING', 5],
    ['SCALING', 5],
    ['RUNNING', 5],
    ['STOPPING', undefined],
    ['STOPPED', undefined],
    ['FAILED', undefined],
    ['ERROR', undefined],
    ['DELETING', undefined],
  ])('without a ready replica, %s names its state (Retry-After %j)', (state, retry) => {
    const s = serving(route({ state }), 8080);
    expect(s).toEqual({
      ok: false,
      state,
      message: expect.stringContaining(`app app1 is ${state}`),
      ...(retry ? { retryAfterSeconds: retry } : {}),
    });
  });

  it('serves while SCALING but not while STOPPING, even with endpoints listed', () => {
    const endpoints = [endpoint('r1', { '8080': 32001 })];
    expect(serving(route({ state: 'SCALING', endpoints }), 8080).ok).toBe(true);
    expect(serving(route({ state: 'STOPPING', endpoints }), 8080).ok).toBe(false);
  });

  it('skips endpoints without the port or with a bad host port or address', () => {
    const r = route({
      endpoints: [
        endpoint('r1', { '9000': 1 }),
        endpoint('r2', { '8080': 0 }),
        endpoint('r3', { '8080': 1 }, ''),
      ],
    });
    expect(serving(r, 8080)).toMatchObject({
      ok: false,
      message: 'app app1 is RUNNING but has no ready replica serving port 8080',
    });
  });
});

describe('tryOrder', () => {
  const u = (id: string, port: number): Upstream => ({
    replicaId: id,
    nodeId: 'n',
    address: '127.0.0.1',
    port,
  });
  const three = [u('a', 1), u('b', 2), u('c', 3)];
  const ids = (list: Upstream[]): string => list.map((x) => x.replicaId).join('');

  it.each([
    [0, 'abc'],
    [1, 'bca'],
    [2, 'cab'],
    [3, 'abc'],
    [-1, 'cab'],
  ])('turn %i → %s', (turn, expected) => {
    expect(ids(tryOrder(three, turn))).toBe(expected);
  });

  it('tries ejected endpoints last, and again in turn once their ejection is over', () => {
    const ejected = (until: number): EndpointHealth => ({
      failures: 3,
      ejectedUntil: until,
      lastFailureAt: 0,
    });
    const down = new Map([['127.0.0.1:1', ejected(2000)]]);
    expect(ids(tryOrder(three, 0, down, 1000))).toBe('bca');
    expect(ids(tryOrder(three, 0, down, 3000))).toBe('abc');
    const allDown = new Map(three.map((x) => [`127.0.0.1:${x.port}`, ejected(2000)]));
    expect(ids(tryOrder(three, 1, allDown, 1000))).toBe('bca');
    // Failing, but not (yet) ejected: keeps its turn.
    const failing = new Map([['127.0.0.1:1', { failures: 2, ejectedUntil: 0, lastFailureAt: 900 }]]);
    expect(ids(tryOrder(three, 0, failing, 1000))).toBe('abc');
  });

  it('is empty without upstreams', () => {
    expect(tryOrder([], 5)).toEqual([]);
  });
});

describe('afterAttempt (passive health)', () => {
  const policy = { afterFailures: 3, ejectMs: 10_000 };
  type Step = [
    ok: boolean,
    now: number,
    failures: number | undefined,
    ejectedUntil: number,
    ejected: boolean,
  ];

  it.each<[string, Step[]]>([
    ['an answer keeps nothing', [[true, 0, undefined, 0, false]]],
    [
      'the third failure in a row ejects',
      [
        [false, 100, 1, 0, false],
        [false, 200, 2, 0, false],
        [false, 300, 3, 10_300, true],
      ],
    ],
    [
      'an answer in between starts the count again',
      [
        [false, 100, 1, 0, false],
        [false, 200, 2, 0, false],
        [true, 250, undefined, 0, false],
        [false, 300, 1, 0, false],
        [false, 400, 2, 0, false],
      ],
    ],
    [
      'a failure while ejected extends it, without counting as a new ejection',
      [
        [false, 100, 1, 0, false],
        [false, 200, 2, 0, false],
        [false, 300, 3, 10_300, true],
        [false, 5_000, 4, 15_000, false],
      ],
    ],
    [
      'tried again after the window (half-open): one failure ejects again, an answer restores it',
      [
        [false, 100, 1, 0, false],
        [false, 200, 2, 0, false],
        [false, 300, 3, 10_300, true],
        [false, 20_000, 4, 30_000, true],
        [true, 40_000, undefined, 0, false],
      ],
    ],
  ])('%s', (_name, steps) => {
    let h: EndpointHealth | undefined;
    for (const [ok, now, failures, ejectedUntil, ejected] of steps) {
      const next = afterAttempt(h, ok, now, policy);
      h = next.health;
      expect([h?.failures, h?.ejectedUntil ?? 0, next.ejected]).toEqual([failures, ejectedUntil, ejected]);
      expect(isEjected(h, now)).toBe(ejectedUntil > now);
    }
  });

  it('ejects at the first failure with afterFailures 1 (or less), never with ejectMs 0', () => {
    expect(afterAttempt(undefined, false, 5, { afterFailures: 1, ejectMs: 100 })).toEqual({
      health: { failures: 1, ejectedUntil: 105, lastFailureAt: 5 },
      ejected: true,
    });
    expect(afterAttempt(undefined, false, 5, { afterFailures: 0, ejectMs: 100 }).ejected).toBe(true);
    const never = afterAttempt(undefined, false, 5, { afterFailures: 1, ejectMs: 0 });
    expect([never.ejected, isEjected(never.health, 5)]).toEqual([false, false]);
  });
});

describe('mayRetry', () => {
  const base: AttemptFailure = {
    method: 'GET',
    hasBody: false,
    sent: true,
    answered: false,
    attempts: 1,
    maxAttempts: 3,
  };
  it.each<[string, Partial<AttemptFailure>, boolean]>([
    ['GET sent, no answer (timed out, reset)', {}, true],
    ['HEAD, OPTIONS, PUT, DELETE without body, sent', { method: 'HEAD' }, true],
    ['put in lower case', { method: 'put' }, true],
    ['DELETE sent', { method: 'DELETE' }, true],
    ['POST sent', { method: 'POST' }, false],
    ['PATCH sent', { method: 'PATCH' }, false],
    ['POST never sent (refused, connect timeout)', { method: 'POST', hasBody: true, sent: false }, true],
    ['PUT whose body was streamed', { method: 'PUT', hasBody: true }, false],
    ['PUT with a body never sent', { method: 'PUT', hasBody: true, sent: false }, true],
    ['the client already has headers', { answered: true, sent: false }, false],
    ['attempts used up', { attempts: 3, sent: false }, false],
    ['a single replica', { maxAttempts: 1, sent: false }, false],
  ])('%s → %j', (_name, f, expected) => {
    expect(mayRetry({ ...base, ...f })).toBe(expected);
  });
});
