import type { AppState, NodeAssignmentIndex, ReplicaAssignment, ReplicaReport } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { appSpec, desiredState, GiB } from '../__fixtures__/fleet.js';
import { assignmentFor, placedAtStart } from './assignment.js';
import { Changes, Fleet } from './fleet.js';
import type { AppView, NodeView, ReplicaView } from './types.js';

const T0 = '2026-11-23T10:00:00.000Z';

const replica: ReplicaView = {
  id: 'a-r1',
  appId: 'a',
  nodeId: 'n1',
  specVersion: 1,
  desired: 'RUN',
  cpu: 1,
  memory: 4 * GiB,
  units: 1,
  gpus: [],
  phase: 'PENDING',
  everReady: false,
  restarts: 0,
  reportSeq: 0,
};

const appWith = (spec = appSpec()): AppView => ({ id: 'a', projectId: 'p1', spec }) as unknown as AppView;

describe('assignmentFor', () => {
  it('carries the probes whole and publishes every port they use, once', () => {
    const liveness = {
      path: '/healthz',
      port: 9100,
      periodSeconds: 5,
      failureThreshold: 2,
      timeoutSeconds: 1,
    };
    const a = assignmentFor(
      appWith(
        appSpec({ grpcPort: 9000, probe: { path: '/ready', port: 8080, startupGraceSeconds: 30, liveness } }),
      ),
      replica,
    );
    expect(a.ports).toEqual([8080, 9000, 9100]);
    expect(a.probe).toEqual({ path: '/ready', port: 8080, startupGraceSeconds: 30, liveness });
    expect('refreshImage' in a).toBe(false);
    const same = assignmentFor(
      appWith(appSpec({ probe: { path: '/', port: 8080, liveness: { ...liveness, port: 8080 } } })),
      replica,
    );
    expect(same.ports).toEqual([8080]);
  });

  it('asks for an image refresh only when told to', () => {
    expect(assignmentFor(appWith(), replica, { refreshImage: true }).refreshImage).toBe(true);
    expect('refreshImage' in assignmentFor(appWith(), replica, { refreshImage: false })).toBe(false);
  });
});

describe('placedAtStart', () => {
  it.each<[AppState, boolean]>([
    ['QUEUED', true],
    ['INITIALIZING', true],
    ['STOPPED', true],
    ['SCALING', false],
    ['RUNNING', false],
    ['STOPPING', false],
    ['FAILED', false],
  ])('%s → %s', (state, starts) => expect(placedAtStart(state)).toBe(starts));
});

describe('image refresh through the fleet', () => {
  const node: NodeView = {
    id: 'n1',
    address: '10.0.0.1',
    health: 'READY',
    schedulable: true,
    draining: false,
    simulatedGpus: false,
    capacity: { cpus: 32, memory: 256 * GiB, gpus: [] },
  };
  const placedIn = (ch: Changes): ReplicaAssignment[] => {
    const lists = ch.outbox.flatMap((e) =>
      e.kind === 'kv-put' && e.bucket === 'assignments' ? [e.value as NodeAssignmentIndex] : [],
    );
    return lists.flatMap((l) => l.replicas.filter((r): r is ReplicaAssignment => !('ref' in r)));
  };
  const report = (replicaId: string, seq: number, phase: ReplicaReport['phase']): ReplicaReport => ({
    id: `rep${seq}`,
    nodeId: 'n1',
    replicaId,
    appId: 'a',
    seq,
    at: T0,
    phase,
    restarts: 0,
    everReady: phase === 'READY',
  });

  it('marks the replicas placed as the app starts (create, start after stop), not those added later', () => {
    let n = 0;
    const fleet = new Fleet({ replica: (appId) => `${appId}-r${++n}`, event: () => `e${++n}` });
    fleet.load([], [], new Map());
    fleet.syncNodes(new Map([['n1', node]]));
    const pass = (work: (ch: Changes) => boolean | string | undefined): Changes => {
      const ch = new Changes();
      if (work(ch)) fleet.reconcile('a', T0, ch);
      fleet.finish(T0, ch);
      return ch;
    };
    const desired = (version: number, replicas: number, lifecycle: 'RUNNING' | 'STOPPED' = 'RUNNING') =>
      desiredState('a', appSpec({ replicas }), { version, at: T0, lifecycle });
    const ids = () => new Set(fleet.replicasOf('a').map((r) => r.id));
    let seq = 0;

    const created = pass((c) => fleet.saveDesired(desired(1, 2), c));
    const first = [...ids()];
    expect(first).toHaveLength(2);
    expect(placedIn(created).map((a) => a.refreshImage)).toEqual([true, true]);
    for (const id of first) pass((c) => fleet.saveReport(report(id, ++seq, 'READY'), c));

    pass((c) => fleet.saveDesired(desired(2, 3), c));
    const added = fleet.replicasOf('a').find((r) => !first.includes(r.id));
    expect(added?.assignment.refreshImage).toBeUndefined();
    expect(
      fleet
        .replicasOf('a')
        .filter((r) => first.includes(r.id))
        .map((r) => r.assignment.refreshImage),
    ).toEqual([true, true]);

    pass((c) => fleet.saveDesired(desired(3, 3, 'STOPPED'), c));
    for (const id of ids()) pass((c) => fleet.saveReport(report(id, ++seq, 'STOPPED'), c));
    expect(ids().size).toBe(0);
    const started = pass((c) => fleet.saveDesired(desired(4, 3), c));
    expect(placedIn(started).map((a) => a.refreshImage)).toEqual([true, true, true]);
  });
});
