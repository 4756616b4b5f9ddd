import type { RouteEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { serving, tryOrder, type Upstream } from './balancer.js';

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

  it('tries recently failed endpoints last', () => {
    const down = new Map([['127.0.0.1:1', 2000]]);
    expect(ids(tryOrder(three, 0, down, 1000))).toBe('bca');
    expect(ids(tryOrder(three, 0, down, 3000))).toBe('abc');
    const allDown = new Map(three.map((x) => [`127.0.0.1:${x.port}`, 2000]));
    expect(ids(tryOrder(three, 1, allDown, 1000))).toBe('bca');
  });

  it('is empty without upstreams', () => {
    expect(tryOrder([], 5)).toEqual([]);
  });
});
