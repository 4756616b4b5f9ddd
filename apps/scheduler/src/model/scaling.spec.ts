import {
  AppEventSchema,
  type AppScale,
  type AutomaticScaling,
  type ReplicaReport,
  type RouteEntry,
  type ScalingEntry,
  ScalingEntrySchema,
} from '@gantry/contracts';
import { validateEntry } from '@gantry/database';
import { describe, expect, it } from '@jest/globals';

import { appSpec, desiredState } from '../__fixtures__/fleet.js';
import { Changes, Fleet } from './fleet.js';
import type { NodeView } from './types.js';

const T0 = '2026-11-23T10:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

const node: NodeView = {
  id: 'n1',
  address: '10.0.0.1',
  health: 'READY',
  schedulable: true,
  draining: false,
  simulatedGpus: false,
  capacity: { cpus: 32, memory: 256 * 1024 ** 3, gpus: [] },
};

const AUTO: AutomaticScaling = {
  replicasMin: 0,
  replicasMax: 4,
  resourceType: 'CPU',
  averageUsageTarget: 50,
  scaleUpStabilizationWindowSeconds: 0,
  scaleDownStabilizationWindowSeconds: 60,
  cooldownPeriodSeconds: 30,
};

const autoSpec = (auto: Partial<AutomaticScaling> = {}) =>
  appSpec({ scalingStrategy: { automatic: { ...AUTO, ...auto } } });

function setup() {
  let n = 0;
  const fleet = new Fleet({ replica: (appId) => `${appId}-r${++n}`, event: () => `e${++n}` });
  fleet.load([], [], new Map());
  fleet.syncNodes(new Map([[node.id, node]]));
  let seq = 0;
  /** One pass at `now`: every outbox entry checked against its contract, as the store relies on. */
  const pass = (now: string, work: (ch: Changes) => string[]): Changes => {
    const ch = new Changes();
    for (const id of work(ch)) fleet.reconcile(id, now, ch);
    fleet.finish(now, ch);
    for (const e of ch.outbox) {
      validateEntry(e);
      if (e.kind === 'event' && e.subject === 'app.event.v2')
        for (const ev of e.payload.events) AppEventSchema.parse(ev);
    }
    return ch;
  };
  /** Every replica of the app reports READY. */
  const ready = (now: string) =>
    pass(now, (ch) =>
      fleet
        .replicasOf('a')
        .filter((r) => r.desired === 'RUN' && r.phase !== 'READY')
        .map((r) => {
          const report: ReplicaReport = {
            id: `rep${++seq}`,
            nodeId: r.nodeId,
            replicaId: r.id,
            appId: 'a',
            seq: ++seq,
            at: now,
            phase: 'READY',
            restarts: 0,
            everReady: true,
            endpoint: { address: '10.0.0.1', ports: { '8080': 30000 + seq } },
          };
          return fleet.saveReport(report, ch) ?? '';
        })
        .filter(Boolean),
    );
  /** Every replica told to stop reports STOPPED. */
  const stopped = (now: string) =>
    pass(now, (ch) =>
      fleet
        .replicasOf('a')
        .filter((r) => r.desired === 'STOP')
        .map(
          (r) =>
            fleet.saveReport(
              {
                id: `rep${++seq}`,
                nodeId: r.nodeId,
                replicaId: r.id,
                appId: 'a',
                seq: ++seq,
                at: now,
                phase: 'STOPPED',
                restarts: 0,
                everReady: true,
              },
              ch,
            ) ?? '',
        )
        .filter(Boolean),
    );
  const scale = (now: string, replicas: number, over: Partial<AppScale> = {}) =>
    pass(now, (ch) => {
      const id = fleet.saveScale(
        {
          id: `s${++seq}`,
          appId: 'a',
          at: now,
          desiredVersion: 1,
          replicas,
          message: `to ${replicas}`,
          ...over,
        },
        ch,
      );
      return id ? [id] : [];
    });
  return { fleet, pass, ready, stopped, scale };
}

const kv = <T>(ch: Changes, bucket: string): Array<T | 'deleted'> =>
  ch.outbox.flatMap((e): Array<T | 'deleted'> =>
    e.kind === 'kv-put' && e.bucket === bucket
      ? [e.value as T]
      : e.kind === 'kv-delete' && e.bucket === bucket
        ? ['deleted']
        : [],
  );
const events = (ch: Changes) =>
  ch.outbox.flatMap((e) =>
    e.kind === 'event' && e.subject === 'app.event.v2' ? e.payload.events : [],
  ) as Array<{
    type: string;
    source: string;
    message: string;
  }>;

describe('automatic apps in the scheduler', () => {
  it('starts at max(1, replicasMin), publishes what the autoscaler needs, and marks the route wakeable', () => {
    const { fleet, pass, ready } = setup();
    const ch = pass(T0, (c) =>
      fleet.saveDesired(desiredState('a', autoSpec(), { at: T0 }), c) ? ['a'] : [],
    );
    expect(fleet.replicasOf('a')).toHaveLength(1);
    const [entry] = kv<ScalingEntry>(ch, 'scaling');
    expect(ScalingEntrySchema.parse(entry)).toMatchObject({
      appId: 'a',
      replicas: 1,
      replicasSince: T0,
      perReplica: { cpu: 1, gpu: 0 },
      ready: [],
      automatic: { replicasMin: 0, replicasMax: 4 },
    });
    expect(kv<RouteEntry>(ch, 'routes')[0]).toMatchObject({ wakeable: true });
    const up = ready(at(5));
    expect(kv<ScalingEntry>(up, 'scaling')[0]).toMatchObject({ state: 'RUNNING', ready: [{ nodeId: 'n1' }] });
  });

  it('follows decisions within bounds, each an AUTOSCALED event with the reason, and ignores stale ones', () => {
    const { fleet, pass, ready, scale } = setup();
    pass(T0, (c) =>
      fleet.saveDesired(desiredState('a', autoSpec({ replicasMin: 1 }), { at: T0 }), c) ? ['a'] : [],
    );
    ready(at(5));
    const up = scale(at(10), 3, { message: 'cpu 183 % of target 50 %: 1 → 3 replicas' });
    expect(fleet.replicasOf('a').filter((r) => r.desired === 'RUN')).toHaveLength(3);
    expect(fleet.app('a')?.state).toBe('SCALING');
    expect(events(up)).toContainEqual(
      expect.objectContaining({
        type: 'AUTOSCALED',
        source: 'autoscaler',
        message: 'cpu 183 % of target 50 %: 1 → 3 replicas',
      }),
    );
    expect(kv<ScalingEntry>(up, 'scaling')[0]).toMatchObject({ replicas: 3, replicasSince: at(10) });
    ready(at(12));
    expect(fleet.app('a')?.state).toBe('RUNNING');
    // Beyond replicasMax: kept at the bound.
    scale(at(20), 9);
    expect(fleet.app('a')?.scaling?.target).toBe(4);
    // Decided before the last change: superseded, nothing happens.
    const stale = scale(at(15), 2);
    expect(stale.empty).toBe(true);
    // The same count again: nothing to record.
    expect(scale(at(25), 4).empty).toBe(true);
  });

  it('goes to zero replicas RUNNING and unbilled, and wakes to one', () => {
    const { fleet, pass, ready, stopped, scale } = setup();
    pass(T0, (c) => (fleet.saveDesired(desiredState('a', autoSpec(), { at: T0 }), c) ? ['a'] : []));
    ready(at(5));
    scale(at(100), 0, { message: 'idle for 90 s: 1 → 0 replicas' });
    expect(fleet.app('a')?.state).toBe('SCALING');
    stopped(at(101));
    expect(fleet.app('a')).toMatchObject({
      state: 'RUNNING',
      availableReplicas: 0,
      allocatedUnits: 0,
      info: { code: 'APP_RUNNING', message: expect.stringContaining('scaled to zero') as unknown as string },
    });
    const wake = scale(at(200), 1, { message: '1 request held at 0 replicas: 0 → 1' });
    expect(fleet.replicasOf('a').filter((r) => r.desired === 'RUN')).toHaveLength(1);
    expect(fleet.app('a')?.state).toBe('SCALING');
    expect(kv<RouteEntry>(wake, 'routes')[0]).toMatchObject({ wakeable: true, endpoints: [] });
    ready(at(201));
    expect(fleet.app('a')).toMatchObject({ state: 'RUNNING', availableReplicas: 1 });
  });

  it('shows a metric that cannot be read in the status, with an event when it starts and ends', () => {
    const { fleet, pass, ready, scale } = setup();
    pass(T0, (c) =>
      fleet.saveDesired(desiredState('a', autoSpec({ replicasMin: 1 }), { at: T0 }), c) ? ['a'] : [],
    );
    ready(at(5));
    const bad = scale(at(10), 1, {
      problem: 'custom metric http://<SELF>:6000/m on replica r1: no value at q',
    });
    expect(fleet.app('a')?.info).toEqual({
      code: 'APP_METRICS_UNAVAILABLE',
      message:
        '1/1 replicas ready; autoscaling holds: custom metric http://<SELF>:6000/m on replica r1: no value at q',
    });
    expect(events(bad).map((e) => e.type)).toEqual(['METRICS_UNAVAILABLE']);
    const good = scale(at(20), 1);
    expect(fleet.app('a')?.info.code).toBe('APP_RUNNING');
    expect(events(good)[0]?.message).toContain('can be read again');
  });

  it('switches fixed → automatic keeping the replicas that serve, and back; stops withdraw the entry', () => {
    const { fleet, pass, ready } = setup();
    pass(T0, (c) =>
      fleet.saveDesired(desiredState('a', appSpec({ replicas: 3 }), { at: T0 }), c) ? ['a'] : [],
    );
    ready(at(5));
    const before = fleet.replicasOf('a').map((r) => r.id);
    const auto = pass(at(10), (c) =>
      fleet.saveDesired(desiredState('a', autoSpec({ replicasMin: 1 }), { version: 2, at: at(10) }), c)
        ? ['a']
        : [],
    );
    expect(fleet.replicasOf('a').map((r) => r.id)).toEqual(before);
    expect(fleet.app('a')?.state).toBe('RUNNING');
    expect(kv<ScalingEntry>(auto, 'scaling')[0]).toMatchObject({
      replicas: 3,
      ready: expect.any(Array) as unknown,
    });
    const fixed = pass(at(20), (c) =>
      fleet.saveDesired(desiredState('a', appSpec({ replicas: 2 }), { version: 3, at: at(20) }), c)
        ? ['a']
        : [],
    );
    expect(kv(fixed, 'scaling')).toEqual(['deleted']);
    expect(fleet.app('a')?.scaling).toBeUndefined();
    pass(at(30), (c) =>
      fleet.saveDesired(desiredState('a', autoSpec(), { version: 4, at: at(30) }), c) ? ['a'] : [],
    );
    const stop = pass(at(40), (c) =>
      fleet.saveDesired(desiredState('a', autoSpec(), { version: 5, at: at(40), lifecycle: 'STOPPED' }), c)
        ? ['a']
        : [],
    );
    expect(kv(stop, 'scaling')).toEqual(['deleted']);
  });
});
