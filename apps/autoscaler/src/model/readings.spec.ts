import type { AutomaticScaling, CustomMetrics, ScalingEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import {
  APP_KEY,
  customReading,
  fmt,
  metricSource,
  type PollResult,
  type ReadyReplica,
  resourceReading,
} from './readings.js';
import { type UsageSample, UsageSamples } from './usage.js';

const S = 1000;
const NOW = 1_000_000;
const GiB = 1 << 30;

function entry(automatic: Partial<AutomaticScaling> = {}): ScalingEntry {
  return {
    appId: 'app-1',
    projectId: 'p1',
    version: 1,
    updatedAt: '2026-05-01T10:00:00Z',
    desiredVersion: 1,
    state: 'RUNNING',
    automatic: {
      replicasMin: 1,
      replicasMax: 4,
      resourceType: 'CPU',
      averageUsageTarget: 50,
      scaleUpStabilizationWindowSeconds: 0,
      scaleDownStabilizationWindowSeconds: 300,
      ...automatic,
    },
    replicas: 2,
    replicasSince: '2026-05-01T10:00:00Z',
    perReplica: { cpu: 2, memory: 4 * GiB, gpu: 0 },
    ready: [],
  };
}

const ready = (...ids: Array<[string, number]>): ReadyReplica[] =>
  ids.map(([replicaId, readyFor]) => ({ replicaId, nodeId: 'n1', readySince: NOW - readyFor * S }));
const opts = { now: NOW, windowMs: 10 * S, graceMs: 30 * S };

describe('CPU and RAM', () => {
  const samples: Record<string, UsageSample[]> = {
    r1: [
      { at: NOW - 2 * S, cpu: 3, memory: 2 * GiB },
      { at: NOW - S, cpu: 4, memory: 3 * GiB },
    ],
    r2: [{ at: NOW - S, cpu: 1, memory: 1 * GiB }],
  };
  const of = (id: string): UsageSample[] => samples[id] ?? [];

  it('averages each replica, then the replicas, as a percent of the allocation', () => {
    // r1: 3.5 of 2 CPUs = 175 %; r2: 1 of 2 = 50 %; mean 112.5 %.
    expect(resourceReading(entry(), ready(['r1', 60], ['r2', 60]), of, opts)).toEqual({
      kind: 'value',
      metric: { kind: 'perReplica', value: 112.5, target: 50 },
      describe: 'cpu 113 % of target 50 % (2 ready, over 10 s)',
    });
    // r1: 2.5 of 4 GiB = 62.5 %; r2: 25 %.
    expect(
      resourceReading(
        entry({ resourceType: 'RAM', averageUsageTarget: 60 }),
        ready(['r1', 60], ['r2', 60]),
        of,
        opts,
      ),
    ).toMatchObject({
      metric: { kind: 'perReplica', value: 43.75, target: 60 },
      describe: 'ram 44 % of target 60 % (2 ready, over 10 s)',
    });
  });

  it('counts replicas on their way at 0 % above target (the HPA rule for unready pods), not below it', () => {
    // 3 replicas decided, 2 ready at 175 % and 50 %: the third will take load, so (175 + 50 + 0) / 3.
    const three = { ...entry(), replicas: 3 };
    expect(resourceReading(three, ready(['r1', 60], ['r2', 60]), of, opts)).toEqual({
      kind: 'value',
      metric: { kind: 'perReplica', value: 75, target: 50 },
      describe: 'cpu 75 % of target 50 % (2 ready, 1 starting counted at 0 %, over 10 s)',
    });
    // Below target nothing is added: a scale-down is never hastened by replicas that do not serve.
    expect(
      resourceReading(
        { ...three, automatic: { ...three.automatic, averageUsageTarget: 200 } },
        ready(['r1', 60], ['r2', 60]),
        of,
        opts,
      ),
    ).toMatchObject({ metric: { value: 112.5 } });
  });

  it('leaves out a ready replica without samples, and says so', () => {
    expect(resourceReading(entry(), ready(['r1', 60], ['r3', 60]), of, opts)).toMatchObject({
      metric: { value: 175 },
      describe: 'cpu 175 % of target 50 % (1 ready, 1 without usage, over 10 s)',
    });
  });

  it('waits while replicas are new, then reports that none reports usage', () => {
    expect(resourceReading(entry(), ready(['r8', 5], ['r9', 20]), of, opts)).toEqual({
      kind: 'waiting',
      why: 'the ready replicas have not reported usage yet',
    });
    expect(resourceReading(entry(), ready(['r8', 5], ['r9', 31]), of, opts)).toEqual({
      kind: 'problem',
      problem: 'no CPU usage reported for any of the 2 ready replicas over the last 10 s',
    });
    expect(resourceReading(entry(), [], of, opts)).toEqual({ kind: 'waiting', why: 'no ready replica' });
  });

  it('uses the default target, and refuses what cannot be measured', () => {
    expect(
      resourceReading(entry({ averageUsageTarget: undefined }), ready(['r2', 60]), of, opts),
    ).toMatchObject({
      metric: { target: 75 },
    });
    expect(resourceReading(entry({ resourceType: undefined }), ready(['r2', 60]), of, opts)).toMatchObject({
      kind: 'problem',
    });
    const noMemory = { ...entry({ resourceType: 'RAM' }), perReplica: { cpu: 1, memory: 0, gpu: 0 } };
    expect(resourceReading(noMemory, ready(['r2', 60]), of, opts)).toEqual({
      kind: 'problem',
      problem: 'the replicas have no ram allocation to measure usage against',
    });
  });
});

describe('usage samples', () => {
  it('keeps a window, per replica and app, bounded in count', () => {
    const u = new UsageSamples(10 * S, 3);
    for (let i = 0; i < 5; i++) u.add('r1', 'a', { at: NOW - (5 - i) * S, cpu: i, memory: 0 });
    expect(u.since('r1', 'a', 0).map((s) => s.cpu)).toEqual([2, 3, 4]);
    expect(u.since('r1', 'b', 0)).toEqual([]);
    expect(u.since('r1', 'a', NOW - 2 * S).map((s) => s.cpu)).toEqual([4]);
    u.add('r2', 'b', { at: NOW, cpu: 1, memory: 0 });
    u.prune(NOW + 8 * S);
    expect(u.since('r1', 'a', 0).map((s) => s.cpu)).toEqual([4]);
    u.prune(NOW + 30 * S);
    expect(u.replicaCount).toBe(0);
    u.add('r3', 'gone', { at: NOW, cpu: 1, memory: 0 });
    u.prune(NOW, (app) => app === 'gone');
    expect(u.replicaCount).toBe(0);
  });
});

describe('metric URLs', () => {
  it.each([
    [
      'http://<SELF>:6000/metrics',
      { self: true, port: 6000, path: '/metrics', display: 'http://<SELF>:6000/metrics' },
    ],
    ['http://<SELF>/m?x=secret', { self: true, port: 80, path: '/m?x=secret', display: 'http://<SELF>/m' }],
    ['http://<SELF>', { self: true, port: 80, path: '/', display: 'http://<SELF>/' }],
    [
      'https://user:pw@queue.example:8443/stats?token=t',
      {
        self: false,
        url: 'https://user:pw@queue.example:8443/stats?token=t',
        display: 'https://queue.example:8443/stats',
      },
    ],
  ])('%s', (url, source) => expect(metricSource(url)).toEqual(source));

  it.each([
    ['https://<SELF>:6000/m', /whole host of an http/],
    ['http://a<SELF>/m', /whole host/],
    ['http://<SELF>:99999/m', /port 99999 is out of range/],
    ['not a url', /^not a URL$/],
    ['ftp://host/file', /only http/],
    ['file:///etc/passwd', /only http/],
  ])('refuses %s', (url, re) =>
    expect(metricSource(url)).toEqual(expect.objectContaining({ invalid: expect.stringMatching(re) })),
  );

  it('bounds what a message shows of a URL', () => {
    expect(metricSource(`http://h/${'x'.repeat(3000)}`).display.length).toBeLessThanOrEqual(201);
  });
});

describe('custom metrics', () => {
  const custom = (
    over: Partial<CustomMetrics> = {},
  ): AutomaticScaling & { customMetrics: CustomMetrics } => ({
    ...entry({ resourceType: undefined }).automatic,
    customMetrics: {
      apiUrl: 'http://<SELF>:6000/metrics',
      format: 'PROMETHEUS',
      valueLocation: 'queue_depth',
      targetValue: 10,
      aggregationType: 'AVERAGE',
      ...over,
    },
  });
  const self = metricSource('http://<SELF>:6000/metrics');
  const results = (entries: Array<[string, number | string, number?]>): Map<string, PollResult> =>
    new Map(
      entries.map(([key, v, age]) => [
        key,
        {
          at: NOW - (age ?? 1) * S,
          result: typeof v === 'number' ? { ok: true, value: v } : { ok: false, error: v },
        },
      ]),
    );
  const copts = { now: NOW, graceMs: 30 * S, maxAgeMs: 15 * S };
  const three = ready(['r1', 60], ['r2', 60], ['r3', 60]);
  const values = results([
    ['r1', 10],
    ['r2', 40],
    ['r3', 4],
  ]);

  it.each([
    ['AVERAGE', 'perReplica', 18],
    ['MIN', 'perReplica', 4],
    ['MAX', 'perReplica', 40],
    ['SUM', 'total', 54],
  ] as const)('aggregates by %s', (aggregationType, kind, value) => {
    const r = customReading(custom({ aggregationType }), self, three, values, copts);
    expect(r).toMatchObject({ kind: 'value', metric: { kind, value, target: 10 } });
  });

  it('describes the figure, how it was aggregated and where it came from', () => {
    expect(customReading(custom(), self, three, values, copts)).toMatchObject({
      describe:
        'custom metric queue_depth 18 (average of 3 replicas, http://<SELF>:6000/metrics) of target 10',
    });
  });

  it('a failing replica is a problem naming the URL, the replica and what was wrong', () => {
    const r = customReading(
      custom(),
      self,
      three,
      results([
        ['r1', 3],
        ['r2', 'no series queue_depth'],
        ['r3', 'HTTP 500'],
      ]),
      copts,
    );
    expect(r).toEqual({
      kind: 'problem',
      problem:
        'custom metric http://<SELF>:6000/metrics on replica r2: no series queue_depth (and 1 other replica)',
    });
  });

  it('gives a newly ready replica its grace, and ignores stale or missing results', () => {
    const young = ready(['r1', 60], ['r2', 5]);
    const r = customReading(
      custom(),
      self,
      young,
      results([
        ['r1', 30],
        ['r2', 'connection refused'],
      ]),
      copts,
    );
    expect(r).toMatchObject({ kind: 'value', metric: { value: 30 } });
    expect(customReading(custom(), self, young, results([['r1', 30, 20]]), copts)).toMatchObject({
      kind: 'waiting',
    });
    expect(customReading(custom(), self, [], values, copts)).toMatchObject({ kind: 'waiting' });
  });

  it('a plain URL is one total for the app', () => {
    const url = metricSource('http://127.0.0.1:9/q?key=secret');
    const a = custom({ apiUrl: 'http://127.0.0.1:9/q?key=secret', aggregationType: 'MAX' });
    expect(customReading(a, url, three, results([[APP_KEY, 35]]), copts)).toEqual({
      kind: 'value',
      metric: { kind: 'total', value: 35, target: 10 },
      describe: 'custom metric queue_depth 35 at http://127.0.0.1:9/q for a target of 10 per replica',
    });
    expect(customReading(a, url, three, results([[APP_KEY, 'HTTP 404']]), copts)).toEqual({
      kind: 'problem',
      problem: 'custom metric http://127.0.0.1:9/q: HTTP 404',
    });
    expect(customReading(a, url, three, new Map(), copts)).toMatchObject({ kind: 'waiting' });
  });

  it('an unusable URL is a problem', () => {
    expect(customReading(custom(), metricSource('ftp://x/y'), three, values, copts)).toMatchObject({
      kind: 'problem',
      problem: 'custom metric ftp://x/y: only http:// and https:// URLs can be polled, not ftp:',
    });
  });

  it('formats figures for messages', () => {
    expect([fmt(0.12345), fmt(7), fmt(183.4), fmt(1e12)]).toEqual(['0.123', '7', '183', '1000000000000']);
  });
});
