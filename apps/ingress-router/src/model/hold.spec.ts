import type { RouteEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { holdFull, HoldQueues, holdTimedOut, waitsForWake } from './hold.js';

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
    wakeable: true,
    endpoints: [],
    ...extra,
  };
}
const endpoint = { replicaId: 'r1', nodeId: 'n1', address: '10.0.0.1', ports: { '8080': 31000 } };

describe('waitsForWake', () => {
  it('holds for a wakeable app asked to run with no ready replica for the port', () => {
    expect(waitsForWake(route({}), 8080)).toBe(true);
    expect(waitsForWake(route({ state: 'SCALING' }), 8080)).toBe(true);
    // A replica serving another port does not serve this one.
    expect(waitsForWake(route({ endpoints: [endpoint] }), 9000)).toBe(true);
  });

  it('does not hold once a replica is ready, for an app that may not wake, or one not asked to run', () => {
    expect(waitsForWake(route({ endpoints: [endpoint] }), 8080)).toBe(false);
    expect(waitsForWake(route({ wakeable: false }), 8080)).toBe(false);
    expect(waitsForWake(route({ wakeable: undefined }), 8080)).toBe(false);
    for (const state of ['STOPPED', 'STOPPING', 'QUEUED', 'INITIALIZING', 'FAILED', 'DELETING'] as const)
      expect([state, waitsForWake(route({ state }), 8080)]).toEqual([state, false]);
  });
});

describe('HoldQueues', () => {
  const limits = { maxPerApp: 3, timeoutMs: 1000 };

  it('keeps each app’s requests in arrival order and says which one came first', () => {
    const q = new HoldQueues<string>(limits);
    expect(q.add('a', 'a1', 0)?.first).toBe(true);
    expect(q.add('b', 'b1', 1)?.first).toBe(true);
    expect(q.add('a', 'a2', 2)?.first).toBe(false);
    expect(q.add('a', 'a3', 3)?.first).toBe(false);
    expect(q.counts()).toEqual(
      new Map([
        ['a', 3],
        ['b', 1],
      ]),
    );
    const taken: string[] = [];
    for (let e = q.takeFirst('a', () => true); e; e = q.takeFirst('a', () => true)) taken.push(e.item);
    expect(taken).toEqual(['a1', 'a2', 'a3']);
    expect(q.held('a')).toBe(0);
    expect(q.counts()).toEqual(new Map([['b', 1]]));
  });

  it('refuses beyond the bound per app, and takes again once one left', () => {
    const q = new HoldQueues<number>(limits);
    const first = q.add('a', 1, 0)?.entry;
    q.add('a', 2, 0);
    q.add('a', 3, 0);
    expect(q.add('a', 4, 0)).toBeUndefined();
    expect(q.add('b', 1, 0)).toBeDefined(); // other apps have bounds of their own
    if (!first) throw new Error('the first request was not held');
    expect(q.remove(first)).toBe(true);
    expect(q.remove(first)).toBe(false); // already gone: nothing to count twice
    expect(q.add('a', 4, 0)).toBeDefined();
    expect(new HoldQueues<number>({ maxPerApp: 0, timeoutMs: 1000 }).add('a', 1, 0)).toBeUndefined();
  });

  it('takes the earliest entry that may go, leaving the others in their places', () => {
    const q = new HoldQueues<{ port: number; n: number }>(limits);
    q.add('a', { port: 8080, n: 1 }, 0);
    q.add('a', { port: 9000, n: 2 }, 0);
    q.add('a', { port: 8080, n: 3 }, 0);
    expect(q.takeFirst('a', (i) => i.port === 9000)?.item.n).toBe(2);
    expect(q.takeFirst('a', (i) => i.port === 9000)).toBeUndefined();
    expect(q.takeFirst('other', () => true)).toBeUndefined();
    expect(q.takeFirst('a', () => true)?.item.n).toBe(1);
    expect(q.takeFirst('a', () => true)?.item.n).toBe(3);
  });

  it('removes a client that left from the middle, and forgets an app with nothing waiting', () => {
    const q = new HoldQueues<string>(limits);
    q.add('a', 'a1', 0);
    const middle = q.add('a', 'a2', 0)?.entry;
    q.add('a', 'a3', 0);
    if (!middle) throw new Error('the second request was not held');
    expect(q.remove(middle)).toBe(true);
    expect(q.held('a')).toBe(2);
    expect([q.takeFirst('a', () => true)?.item, q.takeFirst('a', () => true)?.item]).toEqual(['a1', 'a3']);
    expect(q.counts().size).toBe(0);
    expect(q.nextDeadline()).toBeUndefined();
  });

  it('keeps the deadlines: the earliest one, and what expired by a given time, oldest first', () => {
    const q = new HoldQueues<string>(limits);
    expect(q.nextDeadline()).toBeUndefined();
    q.add('a', 'a1', 100);
    q.add('b', 'b1', 50);
    q.add('a', 'a2', 400);
    q.add('b', 'b2', 900);
    expect(q.nextDeadline()).toBe(1050);
    expect(q.expire(1049)).toEqual([]);
    expect(q.expire(1100).map((e) => e.item)).toEqual(['a1', 'b1']);
    expect(q.nextDeadline()).toBe(1400);
    expect(q.expire(1400).map((e) => [e.item, e.since, e.deadline])).toEqual([['a2', 400, 1400]]);
    expect(q.counts()).toEqual(new Map([['b', 1]]));
    expect(q.expire(5000).map((e) => e.item)).toEqual(['b2']);
    expect(q.counts().size).toBe(0);
    expect(q.nextDeadline()).toBeUndefined();
  });

  it('drains everything at shutdown', () => {
    const q = new HoldQueues<string>(limits);
    q.add('a', 'a1', 0);
    q.add('b', 'b1', 0);
    q.add('a', 'a2', 0);
    expect(q.drain().map((e) => e.item)).toEqual(['a1', 'a2', 'b1']);
    expect(q.counts().size).toBe(0);
  });
});

describe('refusals', () => {
  it('are 503 UNAVAILABLE with Retry-After, saying the app is starting from zero replicas', () => {
    const timedOut = holdTimedOut('app1', 60_000);
    expect(timedOut).toMatchObject({
      status: 503,
      body: { error: 'UNAVAILABLE', details: { cause: 'HOLD_TIMEOUT' } },
      headers: { 'Retry-After': '5' },
    });
    expect(timedOut.body.message).toBe(
      'app app1 is starting from zero replicas and had no ready replica within 60 s; try again shortly',
    );
    expect(holdTimedOut('app1', 1500).body.message).toContain('within 1500 ms');
    expect(holdFull('app1', 1000)).toMatchObject({
      status: 503,
      body: {
        error: 'UNAVAILABLE',
        message: expect.stringContaining('starting from zero replicas and already has 1000 requests waiting'),
      },
      headers: { 'Retry-After': '5' },
    });
  });
});
