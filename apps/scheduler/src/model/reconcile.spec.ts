import type { AppSpec } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { freeCapacity } from './placement.js';
import { reconcileApp, type ReconcilePlan } from './reconcile.js';
import type { AppView, NodeView, ReplicaView } from './types.js';

const GiB = 1024 ** 3;
const T0 = '2026-11-23T10:00:00.000Z';

const spec = (replicas = 1): AppSpec => ({
  name: 'demo',
  image: 'demo:1',
  envVars: [],
  labels: { 'gantry/id': 'app1' },
  resources: {
    flavor: 'ai1-1-cpu',
    type: 'cpu',
    units: 1,
    cpu: 1,
    gpu: 0,
    memory: 4 * GiB,
    ephemeralStorage: 0,
    publicNetwork: 0,
    privateNetwork: 0,
  },
  scalingStrategy: { fixed: { replicas } },
  defaultHttpPort: 8080,
  probe: { path: '/', port: 8080 },
  unsecureHttp: true,
  deploymentStrategy: { maxSurge: '25%', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
});

const app = (over: Partial<AppView> = {}): AppView => ({
  id: 'app1',
  projectId: 'p1',
  desiredVersion: 1,
  lifecycle: 'RUNNING',
  spec: spec(),
  rate: { flavor: 'ai1-1-cpu', unitPriceMicros: 30_000, currency: 'EUR' },
  state: 'QUEUED',
  info: { code: 'APP_QUEUED', message: 'waiting to be scheduled' },
  history: [{ state: 'QUEUED', date: T0 }],
  statusVersion: 1,
  availableReplicas: 0,
  allocatedUnits: 0,
  lastTransitionDate: T0,
  ...over,
});

const node = (id: string, over: Partial<NodeView> = {}): NodeView => ({
  id,
  address: '127.0.0.1',
  health: 'READY',
  schedulable: true,
  draining: false,
  simulatedGpus: false,
  capacity: { cpus: 4, memory: 32 * GiB, gpus: [] },
  ...over,
});

const replica = (id: string, over: Partial<ReplicaView> = {}): ReplicaView => ({
  id,
  appId: 'app1',
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
  ...over,
});

function run(
  a: AppView,
  replicas: ReplicaView[],
  nodes: NodeView[] = [node('n1')],
  allReplicas = replicas,
): ReconcilePlan {
  let n = 0;
  return reconcileApp({
    app: a,
    replicas,
    free: freeCapacity(nodes, allReplicas),
    nodes: new Map(nodes.map((x) => [x.id, x])),
    now: '2026-11-23T10:00:05.000Z',
    newReplicaId: () => `r${++n}`,
  });
}

/** Applies a plan's replica changes the way the store would. */
function after(plan: ReconcilePlan, replicas: ReplicaView[]): ReplicaView[] {
  return [
    ...replicas
      .filter((r) => !plan.forget.includes(r.id))
      .map((r) => (plan.stop.includes(r.id) ? { ...r, desired: 'STOP' as const } : r)),
    ...plan.create,
  ];
}

describe('reconcileApp', () => {
  it('places a new app and takes it QUEUED → INITIALIZING → SCALING', () => {
    const plan = run(app(), []);
    expect(plan.create).toHaveLength(1);
    expect(plan.create[0]).toMatchObject({ nodeId: 'n1', desired: 'RUN', phase: 'PENDING', units: 1 });
    expect(plan.app.history.map((h) => h.state)).toEqual(['QUEUED', 'INITIALIZING', 'SCALING']);
    expect(plan.app).toMatchObject({
      state: 'SCALING',
      allocatedUnits: 1,
      availableReplicas: 0,
      statusVersion: 2,
    });
    expect(plan.app.info).toEqual({ code: 'APP_SCALING', message: '0/1 replicas ready' });
    expect(plan.events.map((e) => e.type)).toEqual(['REPLICA_PLACED', 'STATE_CHANGED', 'STATE_CHANGED']);
    expect(plan.statusChanged).toBe(true);
  });

  it('is idempotent: reconciling its own result changes nothing', () => {
    const first = run(app(), []);
    const second = run(first.app, after(first, []));
    expect(second.create).toEqual([]);
    expect(second.stop).toEqual([]);
    expect(second.events).toEqual([]);
    expect(second.statusChanged).toBe(false);
  });

  it('becomes RUNNING when every replica is ready', () => {
    const scaling = app({
      state: 'SCALING',
      allocatedUnits: 1,
      info: { code: 'APP_SCALING', message: '0/1 replicas ready' },
    });
    const plan = run(scaling, [replica('r1', { phase: 'READY', everReady: true })]);
    expect(plan.app).toMatchObject({ state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    expect(plan.app.info).toEqual({ code: 'APP_RUNNING', message: '1/1 replicas ready' });
    expect(plan.app.lastTransitionDate).toBe('2026-11-23T10:00:05.000Z');
  });

  it('stays QUEUED with a message naming the blocking resource, announced once', () => {
    const full = [node('n1', { capacity: { cpus: 1, memory: 32 * GiB, gpus: [] } })];
    const other = replica('x', { appId: 'other', phase: 'READY' });
    const plan = run(app(), [], full, [other]);
    expect(plan.app.state).toBe('QUEUED');
    expect(plan.app.info).toEqual({
      code: 'APP_QUEUED',
      message: 'waiting for capacity: needs 1 CPUs on one host; largest free on any schedulable host: 0',
    });
    expect(plan.events).toEqual([
      expect.objectContaining({ type: 'UNSCHEDULABLE', reason: 'APP_NO_CAPACITY' }),
    ]);
    const again = run(plan.app, [], full, [other]);
    expect(again.events).toEqual([]);
    expect(again.statusChanged).toBe(false);
  });

  it('fails the app when a replica fails before it was ever ready, and stops it', () => {
    const scaling = app({ state: 'SCALING', allocatedUnits: 1 });
    const failed = replica('r1', {
      phase: 'FAILED',
      reason: 'APP_CRASH_LOOP',
      exitCode: 3,
      message: 'container exited with code 3 before it was ever ready',
    });
    const plan = run(scaling, [failed]);
    expect(plan.app.state).toBe('FAILED');
    expect(plan.app.info).toEqual({
      code: 'APP_CRASH_LOOP',
      message: 'container exited with code 3 before it was ever ready',
    });
    expect(plan.stop).toEqual(['r1']);
  });

  it('replaces a replica that failed after it had served', () => {
    const running = app({ state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    const plan = run(running, [replica('r1', { phase: 'FAILED', everReady: true })]);
    expect(plan.stop).toEqual(['r1']);
    expect(plan.create).toHaveLength(1);
    expect(plan.app.state).toBe('SCALING');
  });

  it('stops: RUNNING → STOPPING, then STOPPED once the replicas are gone', () => {
    const running = app({ lifecycle: 'STOPPED', state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    const r1 = replica('r1', { phase: 'READY', everReady: true });
    const stopping = run(running, [r1]);
    expect(stopping.app.state).toBe('STOPPING');
    expect(stopping.stop).toEqual(['r1']);
    expect(stopping.app.availableReplicas).toBe(0);
    const stillThere = run(stopping.app, after(stopping, [r1]));
    expect(stillThere.app.state).toBe('STOPPING');
    const gone = run(stopping.app, []);
    expect(gone.app.state).toBe('STOPPED');
    expect(gone.app.allocatedUnits).toBe(0);
    expect(gone.app.history.map((h) => h.state).slice(-2)).toEqual(['STOPPING', 'STOPPED']);
  });

  it('starts a stopped app: STOPPED → QUEUED → … → SCALING in one pass when capacity is there', () => {
    const stopped = app({ state: 'STOPPED', desiredVersion: 3 });
    const plan = run(stopped, []);
    expect(plan.app.history.map((h) => h.state).slice(1)).toEqual(['QUEUED', 'INITIALIZING', 'SCALING']);
    expect(plan.create[0]?.specVersion).toBe(3);
  });

  it('force-deletes a running app: STOPPING, then STOPPED → DELETING → DELETED', () => {
    const running = app({ lifecycle: 'DELETED', state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    const r1 = replica('r1', { phase: 'READY', everReady: true });
    const first = run(running, [r1]);
    expect(first.app.state).toBe('STOPPING');
    expect(first.deleted).toBe(false);
    const second = run(first.app, []);
    expect(second.app.history.map((h) => h.state).slice(-3)).toEqual(['STOPPED', 'DELETING', 'DELETED']);
    expect(second.deleted).toBe(true);
  });

  it('deletes a failed app', () => {
    const plan = run(app({ lifecycle: 'DELETED', state: 'FAILED' }), []);
    expect(plan.app.state).toBe('DELETED');
    expect(plan.deleted).toBe(true);
  });

  it('replaces replicas of a lost node elsewhere', () => {
    const running = app({ state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    const nodes = [node('n1', { health: 'LOST' }), node('n2')];
    const plan = run(running, [replica('r1', { phase: 'READY', everReady: true })], nodes);
    expect(plan.forget).toEqual(['r1']);
    expect(plan.create).toEqual([expect.objectContaining({ nodeId: 'n2' })]);
    expect(plan.app.state).toBe('SCALING');
    expect(plan.app.availableReplicas).toBe(0);
  });

  it('scales with what fits and says how many wait', () => {
    const plan = run(
      app({ spec: spec(3) }),
      [],
      [node('n1', { capacity: { cpus: 2, memory: 32 * GiB, gpus: [] } })],
    );
    expect(plan.create).toHaveLength(2);
    expect(plan.app.state).toBe('SCALING');
    expect(plan.app.info.message).toBe(
      '0/3 replicas ready; 1 waiting for capacity: needs 1 CPUs on one host; largest free on any schedulable host: 0',
    );
  });

  it('takes surplus replicas away, not-ready ones first', () => {
    const running = app({ state: 'RUNNING', spec: spec(1), availableReplicas: 1, allocatedUnits: 2 });
    const plan = run(running, [
      replica('r1', { phase: 'READY', everReady: true }),
      replica('r2', { phase: 'STARTING' }),
    ]);
    expect(plan.stop).toEqual(['r2']);
    expect(plan.app.state).toBe('SCALING');
  });
});

describe('reconcileApp after a scale-down', () => {
  it('converges only once the surplus replica is gone', () => {
    const scaling = app({ state: 'SCALING', availableReplicas: 1, allocatedUnits: 2 });
    const leaving = [
      replica('r1', { phase: 'READY', everReady: true }),
      replica('r2', { desired: 'STOP', phase: 'READY' }),
    ];
    expect(run(scaling, leaving).app.state).toBe('SCALING');
    expect(run(scaling, leaving.slice(0, 1)).app.state).toBe('RUNNING');
  });
});

describe('reconcileApp on a draining node', () => {
  const drainingNodes = () => [node('n1', { schedulable: false, draining: true }), node('n2'), node('n3')];

  it('places a replacement first, keeping the old replica serving', () => {
    const running = app({ state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    const plan = run(running, [replica('r1', { phase: 'READY', everReady: true })], drainingNodes());
    expect(plan.stop).toEqual([]);
    expect(plan.create).toEqual([expect.objectContaining({ nodeId: expect.not.stringMatching(/^n1$/) })]);
    expect(plan.app.state).toBe('SCALING');
    expect(plan.app.availableReplicas).toBe(1);
  });

  it('stops the old replica only once its replacement is ready', () => {
    const scaling = app({ state: 'SCALING', availableReplicas: 1, allocatedUnits: 2 });
    const old = replica('r1', { phase: 'READY', everReady: true });
    const starting = replica('r2', { nodeId: 'n2', phase: 'STARTING' });
    expect(run(scaling, [old, starting], drainingNodes()).stop).toEqual([]);
    const ready = replica('r2', { nodeId: 'n2', phase: 'READY', everReady: true });
    const plan = run(scaling, [old, ready], drainingNodes());
    expect(plan.stop).toEqual(['r1']);
    expect(plan.create).toEqual([]);
    expect(plan.app.availableReplicas).toBe(1);
  });

  it('moves replicas one at a time', () => {
    const running = app({ state: 'RUNNING', spec: spec(3), availableReplicas: 3, allocatedUnits: 3 });
    const old = ['r1', 'r2', 'r3'].map((id) => replica(id, { phase: 'READY', everReady: true }));
    const first = run(running, old, drainingNodes());
    expect(first.create).toHaveLength(1);
    expect(first.stop).toEqual([]);
    const again = run(first.app, after(first, old), drainingNodes());
    expect(again.create).toEqual([]);
    const replacementReady = after(first, old).map((r) =>
      r.phase === 'PENDING' ? { ...r, phase: 'READY' as const, everReady: true } : r,
    );
    const third = run(first.app, replacementReady, drainingNodes());
    expect(third.stop).toHaveLength(1);
    expect(third.create).toEqual([]);
  });
});
