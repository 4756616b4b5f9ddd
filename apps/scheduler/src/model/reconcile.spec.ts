import { type AppSpec, replicasWanted } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { appSpec, GiB } from '../__fixtures__/fleet.js';
import { freeCapacity } from './placement.js';
import { HISTORY_LIMIT, reconcileApp, type ReconcilePlan } from './reconcile.js';
import { rolloutBounds, runtimeHash } from './rollout.js';
import type { AppView, NodeView, ReplicaView } from './types.js';

const T0 = '2026-11-23T10:00:00.000Z';

const spec = (replicas = 1): AppSpec =>
  appSpec({ replicas, image: 'demo:1', labels: { 'gantry/id': 'app1' } });

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
  specHash: runtimeHash(spec()),
  image: 'demo:1',
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

  it('goes SCALING, naming the blocking resource, when a lost node’s replica fits nowhere else', () => {
    const running = app({ state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    const nodes = [
      node('n1', { health: 'LOST' }),
      node('n2', { capacity: { cpus: 0.5, memory: 32 * GiB, gpus: [] } }),
    ];
    const plan = run(running, [replica('r1', { phase: 'READY', everReady: true })], nodes);
    expect(plan.forget).toEqual(['r1']);
    expect(plan.create).toEqual([]);
    expect(plan.app.state).toBe('SCALING');
    expect(plan.app.info).toEqual({
      code: 'APP_SCALING',
      message:
        '0/1 replicas ready; 1 waiting for capacity: needs 1 CPUs on one host; largest free on any schedulable host: 0.5',
    });
    expect(plan.blocked).toBeDefined();
    // Once there is room again, it is placed and the app converges back to RUNNING.
    const next = run(plan.app, [], [node('n2')]);
    expect(next.create).toEqual([expect.objectContaining({ nodeId: 'n2' })]);
    expect(next.app.state).toBe('SCALING');
  });

  it('stays RUNNING while a placed replica is only restarting (nothing is missing)', () => {
    const running = app({ state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });
    const plan = run(running, [replica('r1', { phase: 'RESTARTING', everReady: true, restarts: 1 })]);
    expect(plan.create).toEqual([]);
    expect(plan.app.state).toBe('RUNNING');
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

describe('reconcileApp when a node no longer has a GPU a replica holds', () => {
  const gpuSpec = appSpec({ gpus: 1, image: 'demo:1', labels: { 'gantry/id': 'app1' } });
  const gpu = (nodeId: string) => ({
    index: 0,
    uuid: `GPU-${nodeId}-0`,
    model: 'NVIDIA H100 80GB HBM3',
    memory: 0,
  });
  const withGpu = (id: string, gpus = [gpu(id)]) =>
    node(id, { capacity: { cpus: 4, memory: 32 * GiB, gpus } });
  const held = (over: Partial<ReplicaView> = {}) =>
    replica('r1', {
      specHash: runtimeHash(gpuSpec),
      gpus: [{ index: 0, uuid: 'GPU-n1-0' }],
      phase: 'READY',
      everReady: true,
      ...over,
    });
  const running = () => app({ spec: gpuSpec, state: 'RUNNING', availableReplicas: 1, allocatedUnits: 1 });

  it('replaces the replica on another node, saying the platform interrupted it', () => {
    // n1 came back (or its GPU fell off the bus) without the GPU r1 was bound to.
    const plan = run(running(), [held()], [withGpu('n1', []), withGpu('n2')]);
    expect(plan.stop).toEqual(['r1']);
    expect(plan.create).toEqual([
      expect.objectContaining({ nodeId: 'n2', gpus: [{ index: 0, uuid: 'GPU-n2-0' }] }),
    ]);
    expect(plan.events).toContainEqual(
      expect.objectContaining({
        type: 'REPLICA_REMOVED',
        reason: 'APP_INTERRUPTED_BY_PLATFORM',
        replicaId: 'r1',
        message: 'replica r1 was bound to GPU GPU-n1-0, which node n1 no longer has',
      }),
    );
    expect(plan.app.state).toBe('SCALING');
  });

  it('does not fail the app when the node refused such a replica before it was ever ready', () => {
    const refused = held({
      phase: 'FAILED',
      everReady: false,
      reason: 'APP_ERROR',
      message: 'the replica needs 1 GPUs but node n1 has none',
    });
    const plan = run(running(), [refused], [withGpu('n1', []), withGpu('n2')]);
    expect(plan.app.state).toBe('SCALING');
    expect(plan.create).toEqual([expect.objectContaining({ nodeId: 'n2' })]);
    // Nowhere else to go: it waits for a GPU, naming it, instead of failing.
    const waiting = run(running(), [refused], [withGpu('n1', [])]);
    expect(waiting.app.state).toBe('SCALING');
    expect(waiting.app.info.message).toMatch(/1 waiting for capacity: needs 1 × H100 GPUs on one host/);
  });

  it('leaves a replica alone while its node still has its GPUs', () => {
    const plan = run(running(), [held()], [withGpu('n1'), withGpu('n2')]);
    expect(plan.stop).toEqual([]);
    expect(plan.create).toEqual([]);
    expect(plan.app.state).toBe('RUNNING');
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

describe('rolloutBounds', () => {
  it.each([
    [1, '25%', '25%', 1, 0],
    [3, '25%', '25%', 1, 0],
    [4, '25%', '25%', 1, 1],
    [10, '25%', '25%', 3, 2],
    [5, '0', '0', 1, 0],
    [5, '0%', '0%', 1, 0],
    [3, '2', '1', 2, 1],
    [2, '0', '100%', 0, 2],
  ])('%i replicas, surge %s, unavailable %s → %i / %i', (replicas, surge, unavailable, s, u) => {
    expect(
      rolloutBounds({ maxSurge: surge, maxUnavailable: unavailable, progressDeadlineSeconds: 600 }, replicas),
    ).toEqual({ maxSurge: s, maxUnavailable: u });
  });

  it('defaults to 25% each', () => {
    expect(rolloutBounds(undefined, 8)).toEqual({ maxSurge: 2, maxUnavailable: 2 });
  });
});

describe('reconcileApp rolling update', () => {
  const withImage = (image: string, replicas = 1, over: Partial<AppSpec> = {}): AppSpec => ({
    ...spec(replicas),
    image,
    ...over,
  });
  const ready = (id: string, over: Partial<ReplicaView> = {}) =>
    replica(id, { phase: 'READY', everReady: true, ...over });
  const running = (s: AppSpec, n = replicasWanted(s.scalingStrategy)) =>
    app({
      state: 'RUNNING',
      desiredVersion: 2,
      spec: s,
      availableReplicas: n,
      allocatedUnits: n,
      info: { code: 'APP_RUNNING', message: `${n}/${n} replicas ready` },
    });
  const nodes = () => [node('n1', { capacity: { cpus: 16, memory: 128 * GiB, gpus: [] } })];
  /** The node agent: new replicas become ready, stopped ones go away. */
  const agent = (rs: ReplicaView[], fail = false): ReplicaView[] =>
    rs
      .filter((r) => r.desired === 'RUN')
      .map((r) =>
        r.phase === 'PENDING'
          ? fail
            ? { ...r, phase: 'FAILED' as const, reason: 'APP_CRASH_LOOP' as const, message: 'image missing' }
            : { ...r, phase: 'READY' as const, everReady: true }
          : r,
      );

  /** Runs the rollout to its end, checking the bounds after every pass. */
  function rollOut(a: AppView, rs: ReplicaView[], bounds: { minReady: number; maxTotal: number }) {
    const newHash = runtimeHash(a.spec);
    let cur = a;
    let reps = rs;
    const placed: string[] = [];
    const removed: string[] = [];
    for (let pass = 0; pass < 40; pass++) {
      const plan = run(cur, reps, nodes());
      placed.push(...plan.events.filter((e) => e.type === 'REPLICA_PLACED').map((e) => e.message));
      removed.push(...plan.events.filter((e) => e.type === 'REPLICA_REMOVED').map((e) => e.message));
      cur = plan.app;
      const applied = after(plan, reps);
      const serving = applied.filter((r) => r.desired === 'RUN' && r.phase === 'READY').length;
      expect(serving).toBeGreaterThanOrEqual(bounds.minReady);
      expect(applied.filter((r) => r.desired === 'RUN').length).toBeLessThanOrEqual(bounds.maxTotal);
      expect(cur.availableReplicas).toBe(serving);
      if (cur.state === 'RUNNING' && applied.every((r) => r.specHash === newHash)) {
        return { app: cur, replicas: applied, passes: pass + 1, placed, removed };
      }
      expect(cur.state).toBe('SCALING');
      reps = agent(applied);
    }
    throw new Error('the rollout did not converge');
  }

  it('with 1 replica: starts the new one first and removes the old one only once it is ready', () => {
    const s = withImage('demo:2');
    const r1 = ready('r-old');
    const first = run(running(s), [r1], nodes());
    expect(first.create).toEqual([
      expect.objectContaining({ specHash: runtimeHash(s), image: 'demo:2', specVersion: 2 }),
    ]);
    expect(first.stop).toEqual([]);
    expect(first.app).toMatchObject({ state: 'SCALING', availableReplicas: 1 });
    expect(first.app.info.message).toBe(
      '1/1 replicas ready; rolling update (image changed to demo:2): 0/1 updated',
    );
    expect(first.events).toEqual([
      expect.objectContaining({
        type: 'REPLICA_PLACED',
        message: expect.stringContaining('(rolling update: image changed to demo:2)'),
      }),
      expect.objectContaining({
        type: 'STATE_CHANGED',
        message: 'SCALING: rolling update: image changed to demo:2',
      }),
    ]);
    // While the new one starts, nothing moves.
    const starting = after(first, [r1]).map((r) =>
      r.id === 'r1' ? { ...r, phase: 'STARTING' as const } : r,
    );
    const idle = run(first.app, starting, nodes());
    expect(idle.create).toEqual([]);
    expect(idle.stop).toEqual([]);
    expect(idle.events).toEqual([]);
    // Once it is ready, the old one goes.
    const swapped = run(first.app, agent(after(first, [r1])), nodes());
    expect(swapped.stop).toEqual(['r-old']);
    expect(swapped.create).toEqual([]);
    expect(swapped.app.availableReplicas).toBe(1);
    expect(swapped.events).toEqual([
      expect.objectContaining({
        type: 'REPLICA_REMOVED',
        replicaId: 'r-old',
        message: 'replica r-old replaced: image changed to demo:2',
      }),
    ]);
    // And once it is gone, the app is RUNNING again.
    const done = run(swapped.app, agent(after(swapped, agent(after(first, [r1])))), nodes());
    expect(done.app.state).toBe('RUNNING');
    expect(done.app.info).toEqual({ code: 'APP_RUNNING', message: '1/1 replicas ready' });
  });

  it('with 1 replica: never drops below 1 ready replica', () => {
    const end = rollOut(running(withImage('demo:2')), [ready('r-old')], { minReady: 1, maxTotal: 2 });
    expect(end.replicas).toHaveLength(1);
    expect(end.removed).toEqual(['replica r-old replaced: image changed to demo:2']);
  });

  it('with 3 replicas (25%/25% → surge 1, unavailable 0): one at a time, never below 3 ready', () => {
    const olds = ['a', 'b', 'c'].map((id) => ready(id));
    const end = rollOut(running(withImage('demo:2', 3)), olds, { minReady: 3, maxTotal: 4 });
    expect(end.replicas).toHaveLength(3);
    expect(end.placed).toHaveLength(3);
    expect(end.removed).toHaveLength(3);
    expect(end.app.info.message).toBe('3/3 replicas ready');
  });

  it.each([
    // maxSurge, maxUnavailable, placed on the first pass, removed on the first pass, min ready, max total
    // (a removed replica holds its place within the surge until its node reports it gone)
    ['25%', '25%', 1, 1, 3, 5],
    ['2', '0', 2, 0, 4, 6],
    ['0', '1', 0, 1, 3, 4],
    ['0', '0', 1, 0, 4, 5],
    ['50%', '50%', 2, 2, 2, 6],
  ])(
    'with 4 replicas, surge %s and unavailable %s: first pass places %i, removes %i; bounds hold to the end',
    (maxSurge, maxUnavailable, placedFirst, removedFirst, minReady, maxTotal) => {
      const s = withImage('demo:2', 4, {
        deploymentStrategy: { maxSurge, maxUnavailable, progressDeadlineSeconds: 600 },
      });
      const olds = ['a', 'b', 'c', 'd'].map((id) => ready(id));
      const first = run(running(s), olds, nodes());
      expect(first.create).toHaveLength(placedFirst);
      expect(first.stop).toHaveLength(removedFirst);
      const end = rollOut(running(s), olds, { minReady, maxTotal });
      expect(end.replicas).toHaveLength(4);
    },
  );

  it('replaces replicas for other runtime changes too (port, env), saying so', () => {
    const s = withImage('demo:1', 1, { envVars: [{ name: 'A', value: '1' }] });
    const plan = run(running(s), [ready('r-old')], nodes());
    expect(plan.create).toHaveLength(1);
    expect(plan.app.info.message).toContain('rolling update (runtime settings changed');
  });

  it('does nothing on a label-only change (a new desired version, same runtime spec)', () => {
    const s = withImage('demo:1', 1, { labels: { 'gantry/id': 'app1', team: 'a' } });
    const a = { ...running(s), desiredVersion: 7 };
    const plan = run(a, [ready('r1', { specVersion: 1 })], nodes());
    expect(plan.create).toEqual([]);
    expect(plan.stop).toEqual([]);
    expect(plan.events).toEqual([]);
    expect(plan.statusChanged).toBe(false);
    expect(plan.app.state).toBe('RUNNING');
  });

  it('keeps replicas that predate spec hashes', () => {
    const { specHash: _, ...legacy } = ready('r1');
    const plan = run(running(withImage('demo:1')), [legacy], nodes());
    expect(plan.create).toEqual([]);
    expect(plan.stop).toEqual([]);
  });

  it('a failing new replica stalls the rollout: the old one keeps serving, the info says why', () => {
    const s = withImage('demo:404');
    const r1 = ready('r-old');
    const first = run(running(s), [r1], nodes());
    const failedNew = agent(after(first, [r1]), true);
    const stuck = run(first.app, failedNew, nodes());
    expect(stuck.app.state).toBe('SCALING');
    expect(stuck.stop).toEqual([]);
    expect(stuck.create).toEqual([]);
    expect(stuck.app.availableReplicas).toBe(1);
    expect(stuck.app.info).toEqual({
      code: 'APP_ROLLOUT_FAILED',
      message:
        '1/1 replicas ready; rolling update (image changed to demo:404): 0/1 updated; rollout stuck: new replica r1 failed: image missing; the previous replicas keep serving',
    });
    expect(stuck.events).toEqual([
      expect.objectContaining({ type: 'REPLICA_FAILED', replicaId: 'r1', reason: 'APP_CRASH_LOOP' }),
    ]);
    const again = run(stuck.app, failedNew, nodes());
    expect(again.events).toEqual([]);
    expect(again.statusChanged).toBe(false);
    // A fixed image replaces the failed new replica and the rollout goes on, once the failed one
    // (which holds the surge's place until its node reports it gone) is gone.
    const fixed = run({ ...stuck.app, spec: withImage('demo:3') }, failedNew, nodes());
    expect(fixed.stop).toEqual(['r1']);
    expect(fixed.create).toEqual([]);
    expect(fixed.app.state).toBe('SCALING');
    expect(fixed.app.info.code).toBe('APP_SCALING');
    const gone = after(fixed, failedNew).filter((r) => r.desired === 'RUN');
    const next = run(fixed.app, gone, nodes());
    expect(next.create).toEqual([expect.objectContaining({ image: 'demo:3' })]);
  });

  it('a new replica still not ready progressDeadlineSeconds after it was placed fails the rollout, said once; the old one keeps serving', () => {
    const s = withImage('demo:slow'); // progressDeadlineSeconds: 600
    const r1 = ready('r-old');
    const first = run(running(s), [r1], nodes());
    const placedAt = (secondsBeforeNow: number) =>
      after(first, [r1]).map((r) =>
        r.id === 'r1'
          ? {
              ...r,
              phase: 'STARTING' as const,
              createdAt: new Date(
                Date.parse('2026-11-23T10:00:05.000Z') - secondsBeforeNow * 1000,
              ).toISOString(),
            }
          : r,
      );
    const inTime = run(first.app, placedAt(599), nodes());
    expect(inTime.app.info.message).not.toContain('rollout failed');
    expect(inTime.app.info.code).toBe('APP_SCALING');
    const late = run(first.app, placedAt(601), nodes());
    expect(late.app.state).toBe('SCALING');
    expect(late.app.info.code).toBe('APP_ROLLOUT_FAILED');
    expect(late.stop).toEqual([]);
    expect(late.create).toEqual([]);
    expect(late.app.info.message).toBe(
      '1/1 replicas ready; rolling update (image changed to demo:slow): 0/1 updated; rollout failed: new replica r1 not ready 600 s after it was placed (progressDeadlineSeconds); the previous replicas keep serving',
    );
    expect(late.events).toEqual([
      expect.objectContaining({
        type: 'REPLICA_FAILED',
        replicaId: 'r1',
        reason: 'APP_PROGRESS_DEADLINE_EXCEEDED',
      }),
    ]);
    expect(run(late.app, placedAt(700), nodes()).events).toEqual([]);
  });

  it('with 3 replicas, a failing new replica leaves the 3 old ones serving', () => {
    const s = withImage('demo:404', 3);
    const olds = ['a', 'b', 'c'].map((id) => ready(id));
    const first = run(running(s), olds, nodes());
    const failedNew = agent(after(first, olds), true);
    const stuck = run(first.app, failedNew, nodes());
    expect(stuck.app.state).toBe('SCALING');
    expect(stuck.app.availableReplicas).toBe(3);
    expect(stuck.stop).toEqual([]);
    expect(stuck.create).toEqual([]);
    expect(stuck.app.info.message).toContain('rollout stuck');
    expect(stuck.app.info.code).toBe('APP_ROLLOUT_FAILED');
  });

  it('a rollback to the runtime the old replicas run ends the failed rollout: the failed new replica goes', () => {
    const old = withImage('demo:1');
    const olds = [ready('r-old', { specHash: runtimeHash(old), image: 'demo:1' })];
    const first = run(running(withImage('demo:404')), olds, nodes());
    const failedNew = agent(after(first, olds), true);
    const stuck = run(first.app, failedNew, nodes());
    expect(stuck.app.info.code).toBe('APP_ROLLOUT_FAILED');
    const back = run({ ...stuck.app, spec: old }, failedNew, nodes());
    expect(back.stop).toEqual(['r1']);
    expect(back.create).toEqual([]);
    expect(back.app.info.code).not.toBe('APP_ROLLOUT_FAILED');
    const gone = after(back, failedNew).filter((r) => r.desired === 'RUN');
    const done = run(back.app, gone, nodes());
    expect(done.app.state).toBe('RUNNING');
    expect(done.app.info.code).toBe('APP_RUNNING');
  });

  it('still fails the app when a replica fails before ever being ready and nothing old serves', () => {
    const s = withImage('demo:404');
    const plan = run(app({ state: 'SCALING', spec: s }), [
      replica('r1', { specHash: runtimeHash(s), phase: 'FAILED', reason: 'APP_CRASH_LOOP', message: 'boom' }),
    ]);
    expect(plan.app.state).toBe('FAILED');
  });

  it('keeps the last HISTORY_LIMIT transitions, newest last', () => {
    const old = Array.from({ length: HISTORY_LIMIT }, (_, i) => ({
      state: (i % 2 ? 'RUNNING' : 'SCALING') as AppView['state'],
      date: new Date(Date.parse(T0) + i * 1000).toISOString(),
    }));
    const plan = reconcileApp({
      app: app({ state: 'RUNNING', history: old, lifecycle: 'STOPPED' }),
      replicas: [],
      free: freeCapacity([node('n1')], []),
      nodes: new Map([['n1', node('n1')]]),
      now: T0,
      newReplicaId: () => 'r-new',
    });
    expect(plan.app.history).toHaveLength(HISTORY_LIMIT);
    expect(plan.app.history.at(-1)?.state).toBe('STOPPED');
    expect(plan.app.history[0]).toEqual(old[2]);
  });
});

describe('reconcileApp on a first deployment that never becomes ready', () => {
  const scaling = app({
    state: 'SCALING',
    allocatedUnits: 1,
    info: { code: 'APP_SCALING', message: '0/1 replicas ready' },
  });
  const probeSays = 'readiness probe GET / on :8080: connection refused (57 tries over 600 s)';
  // `run` reconciles at 10:00:05.
  const placedAt = (secondsBefore: number) =>
    new Date(Date.parse(T0) + 5000 - secondsBefore * 1000).toISOString();

  it('says in its info what the readiness probe got while it waits', () => {
    const plan = run(scaling, [
      replica('r1', { phase: 'STARTING', message: probeSays, createdAt: placedAt(60) }),
    ]);
    expect(plan.app.state).toBe('SCALING');
    expect(plan.app.info.message).toBe(`0/1 replicas ready; replica r1: ${probeSays}`);
    expect(plan.statusChanged).toBe(true);
  });

  it('fails at progressDeadlineSeconds, naming the probe and what it got, and stops the replica', () => {
    const r1 = replica('r1', { phase: 'STARTING', message: probeSays, createdAt: placedAt(601) });
    const plan = run(scaling, [r1]);
    expect(plan.app.state).toBe('FAILED');
    expect(plan.app.info).toEqual({
      code: 'APP_PROGRESS_DEADLINE_EXCEEDED',
      message: `no replica became ready within 600 s of being placed (progressDeadlineSeconds): replica r1: ${probeSays}`,
    });
    expect(plan.stop).toEqual(['r1']);
    expect(plan.create).toEqual([]);
  });

  it('names the phase when the replica said nothing (an image still pulling)', () => {
    const plan = run(scaling, [replica('r1', { phase: 'PULLING', createdAt: placedAt(700) })]);
    expect(plan.app.info.message).toContain('replica r1: still pulling its image');
  });

  it('leaves an app alone once one of its replicas has been ready', () => {
    const plan = run(scaling, [
      replica('r1', { phase: 'NOT_READY', everReady: true, createdAt: placedAt(3600) }),
    ]);
    expect(plan.app.state).toBe('SCALING');
  });

  it('follows the app’s own deadline', () => {
    const short = app({
      ...scaling,
      spec: { ...spec(), deploymentStrategy: { ...spec().deploymentStrategy, progressDeadlineSeconds: 30 } },
    });
    expect(run(short, [replica('r1', { phase: 'STARTING', createdAt: placedAt(29) })]).app.state).toBe(
      'SCALING',
    );
    expect(run(short, [replica('r1', { phase: 'STARTING', createdAt: placedAt(31) })]).app.state).toBe(
      'FAILED',
    );
  });
});

describe('reconcileApp when the platform fails a replica', () => {
  it('puts the app in ERROR, not FAILED, and stops the replica', () => {
    const scaling = app({ state: 'SCALING', allocatedUnits: 1 });
    const failed = replica('r1', {
      phase: 'FAILED',
      reason: 'APP_ERROR',
      message: 'creating the container failed: engine unavailable (5 attempts)',
    });
    const plan = run(scaling, [failed]);
    expect(plan.app.state).toBe('ERROR');
    expect(plan.app.info).toEqual({
      code: 'APP_ERROR',
      message: 'creating the container failed: engine unavailable (5 attempts)',
    });
    expect(plan.stop).toEqual(['r1']);
  });
});

describe('reconcileApp rolling update, replicas that take a while to go', () => {
  it('never holds more than replicas + maxSurge, counting stopped replicas until they are gone', () => {
    const s: AppSpec = { ...spec(2), image: 'demo:2' };
    let cur = app({
      state: 'RUNNING',
      desiredVersion: 2,
      spec: s,
      availableReplicas: 2,
      allocatedUnits: 2,
      info: { code: 'APP_RUNNING', message: '2/2 replicas ready' },
    });
    const big = [node('n1', { capacity: { cpus: 16, memory: 128 * GiB, gpus: [] } })];
    let reps: ReplicaView[] = ['a', 'b'].map((id) => replica(id, { phase: 'READY', everReady: true }));
    const maxHeld = 2 + rolloutBounds(s.deploymentStrategy, 2).maxSurge;
    for (let pass = 0; pass < 30; pass++) {
      const plan = run(cur, reps, big);
      cur = plan.app;
      const applied = after(plan, reps);
      expect(applied.length).toBeLessThanOrEqual(maxHeld);
      expect(cur.allocatedUnits).toBeLessThanOrEqual(maxHeld);
      if (cur.state === 'RUNNING' && applied.every((r) => r.image === 'demo:2')) return;
      // The node agent: a stopped replica goes one pass later, a new one becomes ready.
      reps = applied
        .filter((r) => !(r.desired === 'STOP' && reps.some((p) => p.id === r.id && p.desired === 'STOP')))
        .map((r) => (r.phase === 'PENDING' ? { ...r, phase: 'READY' as const, everReady: true } : r));
    }
    throw new Error('the rollout did not converge');
  });
});
