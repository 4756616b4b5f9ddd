import {
  type AppDesired,
  type AppEvent,
  AppEventSchema,
  type AppStatusChanged,
  AppStatusChangedSchema,
  type NodeAssignmentIndex,
  type ReplicaReport,
} from '@gantry/contracts';
import { validateEntry } from '@gantry/database';
import { describe, expect, it } from '@jest/globals';

import { appSpec, desiredState, GiB } from '../__fixtures__/fleet.js';
import { Changes, eventBatches, Fleet, statusBatches } from './fleet.js';
import { HISTORY_LIMIT } from './reconcile.js';
import type { NodeView } from './types.js';

const T0 = '2026-11-23T10:00:00.000Z';

const gpuNode = (id: string, gpus = 2, over: Partial<NodeView> = {}): NodeView => ({
  id,
  address: '10.0.0.1',
  health: 'READY',
  schedulable: true,
  draining: false,
  simulatedGpus: true,
  capacity: {
    cpus: 32,
    memory: 256 * GiB,
    gpus: Array.from({ length: gpus }, (_, i) => ({
      index: i,
      uuid: `GPU-${id}-${i}`,
      model: 'NVIDIA H100 80GB HBM3',
      memory: 81_559 * 1024 ** 2,
    })),
  },
  ...over,
});

const desired = (appId: string, version = 1, over: { replicas?: number; gpus?: number } = {}): AppDesired =>
  desiredState(appId, appSpec({ replicas: over.replicas ?? 1, gpus: over.gpus ?? 1 }), { version, at: T0 });

const report = (
  replicaId: string,
  nodeId: string,
  seq: number,
  over: Partial<ReplicaReport> = {},
): ReplicaReport => ({
  id: `r${seq}`,
  nodeId,
  replicaId,
  appId: 'a',
  seq,
  at: T0,
  phase: 'READY',
  restarts: 0,
  everReady: true,
  endpoint: { address: '10.0.0.1', ports: { '8080': 30000 + seq } },
  ...over,
});

/** A fleet with deterministic ids, its nodes synced. */
function fleetOf(...nodes: NodeView[]): { fleet: Fleet; views: Map<string, NodeView> } {
  let n = 0;
  const fleet = new Fleet({ replica: (appId) => `${appId}-r${++n}`, event: () => `e${++n}` });
  fleet.load([], [], new Map());
  const views = new Map(nodes.map((v) => [v.id, v]));
  fleet.syncNodes(views);
  return { fleet, views };
}

/**
 * One pass: desired states in, apps reconciled, assignment lists written, every message checked
 * against its contract (the store writes them without validating again, see SchedulerStore.persist).
 */
function pass(fleet: Fleet, work: (ch: Changes) => string[]): Changes {
  const ch = new Changes();
  const apps = work(ch);
  for (const id of apps) fleet.reconcile(id, T0, ch);
  fleet.finish(T0, ch);
  for (const e of ch.outbox) {
    validateEntry(e);
    // The envelope's contract leaves each status to its consumers: the fleet sends only valid ones.
    if (e.kind === 'event' && e.subject === 'app.status.v2')
      for (const st of e.payload.statuses) AppStatusChangedSchema.parse(st);
    if (e.kind === 'event' && e.subject === 'app.event.v2')
      for (const ev of e.payload.events) AppEventSchema.parse(ev);
  }
  return ch;
}

const assignments = (ch: Changes): NodeAssignmentIndex[] =>
  ch.outbox.flatMap((e) => (e.kind === 'kv-put' && e.bucket === 'assignments' ? [e.value] : []));

const kindOf = (e: Changes['outbox'][number]): string =>
  e.kind === 'event' ? e.subject : `${e.kind} ${e.bucket}`;

describe('Fleet', () => {
  it("sends a pass's assignment lists ahead of its statuses and events", () => {
    const { fleet } = fleetOf(gpuNode('n1'), gpuNode('n2'));
    const ch = pass(fleet, (c) =>
      ['a', 'b', 'c'].filter((id) => fleet.saveDesired(desired(id, 1, { gpus: 2 }), c)),
    );
    const kinds = ch.outbox.map(kindOf);
    expect(kinds.slice(0, 2)).toEqual(['kv-put assignments', 'kv-put assignments']);
    expect(kinds.slice(2)).not.toContain('kv-put assignments');
    // The pass's statuses travel together, in one message, after its routes.
    expect(kinds.filter((k) => k === 'app.status.v2')).toHaveLength(1);
    expect(kinds.indexOf('app.status.v2')).toBeGreaterThan(kinds.lastIndexOf('kv-put routes'));
    const statuses = ch.outbox.find((e) => e.kind === 'event' && e.subject === 'app.status.v2');
    expect(
      statuses?.kind === 'event' &&
        statuses.subject === 'app.status.v2' &&
        statuses.payload.statuses.map((s) => AppStatusChangedSchema.parse(s).appId).sort(),
    ).toEqual(['a', 'b', 'c']);
    // The pass's app events travel together, in one message, last.
    expect(kinds.filter((k) => k === 'app.event.v2')).toHaveLength(1);
    expect(kinds.at(-1)).toBe('app.event.v2');
    const last = ch.outbox.at(-1);
    expect(
      last?.kind === 'event' &&
        last.subject === 'app.event.v2' &&
        last.payload.events.map((e) => AppEventSchema.parse(e).appId),
    ).toEqual(expect.arrayContaining(['a', 'b', 'c']));
  });

  it('cuts a pass’s events into messages of at most 500 events and about 256 KiB, in order', () => {
    const event = (n: number, message = 'x'): AppEvent => ({
      id: `e${n}`,
      appId: 'a',
      projectId: 'p1',
      at: T0,
      source: 'scheduler',
      type: 'STATE_CHANGED',
      reason: 'APP_RUNNING',
      message,
    });
    const many = Array.from({ length: 1200 }, (_, n) => event(n));
    const batches = eventBatches(many);
    expect(batches.map((b) => b.length)).toEqual([500, 500, 200]);
    expect(batches.flat()).toEqual(many);
    // Characters JSON escapes into six (control characters), and multi-byte ones.
    const big = Array.from({ length: 20 }, (_, n) => event(n, (n % 2 ? '\u0001' : 'é€').repeat(4096)));
    const cut = eventBatches(big);
    expect(cut.length).toBeGreaterThan(3);
    expect(cut.flat()).toEqual(big);
    for (const b of [...batches, ...cut]) {
      validateEntry({ kind: 'event', subject: 'app.event.v2', payload: { id: 'b', events: b } });
      for (const ev of b) AppEventSchema.parse(ev);
      expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThan(512 * 1024);
    }
    expect(eventBatches([])).toEqual([]);
  });

  it('cuts a pass’s statuses into messages of at most 200 statuses and about 256 KiB, in order', () => {
    const status = (n: number, message = 'x', history = 1): AppStatusChanged => ({
      id: `a${n}:status:1`,
      appId: `a${n}`,
      projectId: 'p1',
      version: 1,
      at: T0,
      state: 'RUNNING',
      info: { code: 'APP_RUNNING', message },
      availableReplicas: 1,
      allocatedUnits: 1,
      history: Array.from({ length: history }, () => ({ state: 'INITIALIZING', date: T0 })),
      lastTransitionDate: T0,
      rate: { flavor: 'h100-1-gpu', unitPriceMicros: 2_930_000, currency: 'EUR' },
    });
    const many = Array.from({ length: 500 }, (_, n) => status(n));
    const batches = statusBatches(many);
    expect(batches.map((b) => b.length)).toEqual([200, 200, 100]);
    expect(batches.flat()).toEqual(many);
    // Long histories (HISTORY_LIMIT entries), and info text JSON escapes into six bytes a character.
    const big = Array.from({ length: 60 }, (_, n) =>
      status(n, (n % 2 ? '\u0001' : 'é€').repeat(2048), HISTORY_LIMIT),
    );
    const cut = statusBatches(big);
    expect(cut.length).toBeGreaterThan(3);
    expect(cut.flat()).toEqual(big);
    for (const b of [...batches, ...cut]) {
      validateEntry({ kind: 'event', subject: 'app.status.v2', payload: { id: 'b', statuses: b } });
      for (const st of b) AppStatusChangedSchema.parse(st);
      expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThan(512 * 1024);
    }
    expect(statusBatches([])).toEqual([]);
  });

  it('sends every kind of message within its contract: lists, routes, statuses, events, deletes', () => {
    const { fleet } = fleetOf(gpuNode('n1'));
    const kinds = new Set<string>();
    const placed = pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const id = fleet.replicasOf('a')[0]?.id ?? '';
    const ready = pass(fleet, (c) => [fleet.saveReport(report(id, 'n1', 1), c) ?? '']);
    // An app that waits for room (it needs more GPUs than any node has), then is deleted.
    const waiting = pass(fleet, (c) => (fleet.saveDesired(desired('q', 1, { gpus: 4 }), c) ? ['q'] : []));
    const gone = pass(fleet, (c) =>
      fleet.saveDesired({ ...desired('q', 2, { gpus: 4 }), lifecycle: 'DELETED' }, c) ? ['q'] : [],
    );
    for (const ch of [placed, ready, waiting, gone]) for (const e of ch.outbox) kinds.add(kindOf(e));
    expect([...kinds].sort()).toEqual([
      'app.event.v2',
      'app.status.v2',
      'kv-delete routes',
      'kv-put assignments',
      'kv-put routes',
    ]);
  });

  it('places a new app, reserving its GPUs, and records rows, generation and messages for one commit', () => {
    const { fleet } = fleetOf(gpuNode('n1'));
    const ch = pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const [r] = fleet.replicasOf('a');
    expect(r).toMatchObject({ nodeId: 'n1', gpus: [{ index: 0, uuid: 'GPU-n1-0' }], desired: 'RUN' });
    expect(fleet.free.get('n1')?.gpus.map((g) => g.index)).toEqual([1]);
    expect([...ch.desired]).toEqual(['a']);
    expect([...ch.apps]).toEqual(['a']);
    expect([...ch.replicas]).toEqual([r?.id]);
    expect(ch.generations).toEqual(new Map([['n1', 1]]));
    expect(assignments(ch)).toEqual([
      expect.objectContaining({
        nodeId: 'n1',
        generation: 1,
        replicas: [expect.objectContaining({ replicaId: r?.id })],
      }),
    ]);
    const subjects = ch.outbox.map(kindOf);
    expect(subjects).toContain('app.status.v2');
    expect(subjects).toContain('kv-put routes');
    expect(fleet.app('a')).toMatchObject({ state: 'SCALING', routeVersion: 1 });
  });

  it('ignores a replayed or an older desired state', () => {
    const { fleet } = fleetOf(gpuNode('n1'));
    pass(fleet, (c) => (fleet.saveDesired(desired('a', 2), c) ? ['a'] : []));
    const ch = new Changes();
    expect(fleet.saveDesired(desired('a', 2), ch)).toBe(false);
    expect(fleet.saveDesired(desired('a', 1), ch)).toBe(false);
    expect(ch.empty).toBe(true);
  });

  it('keeps only the id of a deleted app once committed, and ignores its desired states thereafter', () => {
    const { fleet } = fleetOf(gpuNode('n1'));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const id = fleet.replicasOf('a')[0]?.id ?? '';
    const gone: AppDesired = { ...desired('a', 2), lifecycle: 'DELETED' };
    pass(fleet, (c) => (fleet.saveDesired(gone, c) ? ['a'] : []));
    expect(fleet.app('a')?.state).toBe('STOPPING');
    const ch = pass(fleet, (c) => [fleet.saveReport(report(id, 'n1', 7, { phase: 'STOPPED' }), c) ?? '']);
    expect(fleet.app('a')?.state).toBe('DELETED');
    expect(ch.outbox).toContainEqual({ kind: 'kv-delete', bucket: 'routes', key: 'a' });
    fleet.compact(ch);
    expect(fleet.app('a')).toBeUndefined();
    expect(fleet.liveAppIds()).toEqual([]);
    const later = new Changes();
    expect(fleet.saveDesired(desired('a', 3), later)).toBe(false);
    expect(later.empty).toBe(true);
  });

  it('never gives a GPU twice, across apps placed in the same pass', () => {
    const { fleet } = fleetOf(gpuNode('n1', 4), gpuNode('n2', 4));
    const ids = ['a', 'b', 'c', 'd', 'e'];
    pass(fleet, (c) => ids.filter((id) => fleet.saveDesired(desired(id, 1, { gpus: 2 }), c)));
    const bound = ids.flatMap((id) => fleet.replicasOf(id).flatMap((r) => r.gpus.map((g) => g.uuid)));
    expect(bound).toHaveLength(8);
    expect(new Set(bound).size).toBe(8);
    expect(fleet.waiting).toEqual(new Set(['e']));
    expect(fleet.app('e')?.info.message).toMatch(/waiting for capacity: needs 2 × H100 GPUs on one host/);
  });

  it('a stale report or one from another node changes nothing; a newer one updates the replica and its route', () => {
    const { fleet } = fleetOf(gpuNode('n1'));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const id = fleet.replicasOf('a')[0]?.id ?? '';
    const ch = new Changes();
    expect(fleet.saveReport(report(id, 'n2', 5), ch)).toBeUndefined();
    expect(fleet.saveReport(report(id, 'n1', 0), ch)).toBeUndefined();
    expect(ch.empty).toBe(true);
    const ready = pass(fleet, (c) => [fleet.saveReport(report(id, 'n1', 3), c) ?? '']);
    expect(fleet.replica(id)).toMatchObject({ phase: 'READY', reportSeq: 3, everReady: true });
    expect(fleet.app('a')).toMatchObject({ state: 'RUNNING', routeVersion: 2 });
    expect(ready.outbox).toContainEqual(
      expect.objectContaining({
        kind: 'kv-put',
        bucket: 'routes',
        value: expect.objectContaining({ version: 2 }),
      }),
    );
    // Reconciling again with nothing new writes nothing.
    expect(pass(fleet, () => ['a']).empty).toBe(true);
  });

  it('makes each restart a node reports an app event in its words (a liveness probe names itself), once', () => {
    const { fleet } = fleetOf(gpuNode('n1'));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const id = fleet.replicasOf('a')[0]?.id ?? '';
    pass(fleet, (c) => [fleet.saveReport(report(id, 'n1', 1), c) ?? '']);
    const why =
      'liveness probe GET /healthz on :8080 failed 3 times in a row (last: connection refused); restarting (restart 1 in 1 s)';
    const restarting = report(id, 'n1', 2, { phase: 'RESTARTING', restarts: 1, exitCode: 143, message: why });
    const ch = pass(fleet, (c) => [fleet.saveReport(restarting, c) ?? '']);
    const sent = ch.outbox.flatMap((e) =>
      e.kind === 'event' && e.subject === 'app.event.v2'
        ? e.payload.events.map((x) => AppEventSchema.parse(x))
        : [],
    );
    expect(sent.filter((e) => e.type === 'REPLICA_EXITED')).toEqual([
      expect.objectContaining({
        appId: 'a',
        projectId: 'p1',
        source: 'node-agent',
        reason: 'APP_CRASH_LOOP',
        message: `replica ${id}: ${why}`,
        replicaId: id,
        nodeId: 'n1',
      }),
    ]);
    // The same report again (redelivered) says nothing more.
    const again = new Changes();
    expect(fleet.saveReport(restarting, again)).toBeUndefined();
    expect(again.events).toEqual([]);
  });

  it('keeps a stopped replica’s GPUs until its node reports it stopped, then wakes the apps waiting for them', () => {
    const { fleet } = fleetOf(gpuNode('n1', 1));
    pass(fleet, (c) => ['a', 'b'].filter((id) => fleet.saveDesired(desired(id), c)));
    expect(fleet.waiting).toEqual(new Set(['b']));
    const held = fleet.replicasOf('a')[0]?.id ?? '';
    const stop: AppDesired = { ...desired('a', 2), lifecycle: 'STOPPED' };
    const stopping = pass(fleet, (c) => (fleet.saveDesired(stop, c) ? ['a', 'b'] : []));
    expect(fleet.replica(held)?.desired).toBe('STOP');
    expect(assignments(stopping)).toEqual([expect.objectContaining({ generation: 2, replicas: [] })]);
    expect(fleet.replicasOf('b')).toEqual([]);
    fleet.capacityFreed = false;
    const freed = pass(fleet, (c) => [
      fleet.saveReport(report(held, 'n1', 9, { phase: 'STOPPED' }), c) ?? '',
    ]);
    expect([...freed.deletedReplicas]).toEqual([held]);
    expect(fleet.free.get('n1')?.gpus.map((g) => g.uuid)).toEqual(['GPU-n1-0']);
    expect(fleet.capacityFreed).toBe(true);
    pass(fleet, () => [...fleet.waiting]);
    expect(fleet.replicasOf('b')).toEqual([
      expect.objectContaining({ gpus: [{ index: 0, uuid: 'GPU-n1-0' }] }),
    ]);
    expect(fleet.waiting.size).toBe(0);
  });

  it('drops a stopped replica a heartbeat shows gone (no report ever came), and the app becomes STOPPED', () => {
    const { fleet } = fleetOf(gpuNode('n1', 1));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const held = fleet.replicasOf('a')[0]?.id ?? '';
    pass(fleet, (c) => (fleet.saveDesired({ ...desired('a', 2), lifecycle: 'STOPPED' }, c) ? ['a'] : []));
    expect(fleet.app('a')?.state).toBe('STOPPING');
    const hb = { nodeId: 'n1', replicas: [], observedGeneration: fleet.generation('n1') };
    // Not before the agent has looked under the generation that told it to stop the replica, nor
    // while it still lists it, nor from an agent that does not say what it looked under.
    expect(fleet.goneFrom({ ...hb, observedGeneration: fleet.generation('n1') - 1 })).toEqual([]);
    expect(fleet.goneFrom({ ...hb, replicas: [{ replicaId: held, phase: 'PRESENT' }] })).toEqual([]);
    expect(fleet.goneFrom({ nodeId: 'n1', replicas: [] })).toEqual([]);
    expect(fleet.goneFrom(hb).map((r) => r.id)).toEqual([held]);
    const ch = pass(fleet, (c) => fleet.dropGone(hb, c));
    expect([...ch.deletedReplicas]).toEqual([held]);
    expect(fleet.app('a')?.state).toBe('STOPPED');
    expect(fleet.free.get('n1')?.gpus.map((g) => g.uuid)).toEqual(['GPU-n1-0']);
    expect(fleet.goneFrom(hb)).toEqual([]);
  });

  it('stores a large replica under its own key ahead of the list that refers to it, and deletes it once gone', () => {
    const { fleet } = fleetOf(gpuNode('n1', 1));
    const big = desiredState('a', appSpec({ gpus: 1, envVars: [{ name: 'BIG', value: 'x'.repeat(8000) }] }), {
      at: T0,
    });
    const placed = pass(fleet, (c) => (fleet.saveDesired(big, c) ? ['a'] : []));
    const id = fleet.replicasOf('a')[0]?.id ?? '';
    expect(placed.outbox.slice(0, 2).map(kindOf)).toEqual([
      'kv-put replica-assignments',
      'kv-put assignments',
    ]);
    expect(placed.outbox[0]).toMatchObject({
      key: `n1.${id}`,
      value: { replicaId: id, envVars: big.spec.envVars },
    });
    expect(assignments(placed)[0]?.replicas).toEqual([{ replicaId: id, ref: true }]);

    pass(fleet, (c) =>
      fleet.saveDesired({ ...big, id: 'd2', version: 2, lifecycle: 'STOPPED' }, c) ? ['a'] : [],
    );
    const gone = pass(fleet, (c) => [fleet.saveReport(report(id, 'n1', 9, { phase: 'STOPPED' }), c) ?? '']);
    expect(gone.outbox.filter((e) => e.kind === 'kv-delete').map((e) => e.key)).toEqual([`n1.${id}`]);
  });

  it('keeps a small replica inline in its node’s list', () => {
    const { fleet } = fleetOf(gpuNode('n1', 1));
    const ch = pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    expect(ch.outbox.some((e) => e.kind === 'kv-put' && e.bucket === 'replica-assignments')).toBe(false);
    expect(assignments(ch)[0]?.replicas[0]).toMatchObject({ appId: 'a', image: expect.any(String) });
  });

  it('never drops a running replica a heartbeat does not list', () => {
    const { fleet } = fleetOf(gpuNode('n1', 1));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    expect(fleet.goneFrom({ nodeId: 'n1', replicas: [], observedGeneration: 99 })).toEqual([]);
  });

  it('forgets the replicas of a lost node, gives nothing back to it, and places them elsewhere', () => {
    const { fleet, views } = fleetOf(gpuNode('n1'), gpuNode('n2', 2, { schedulable: false }));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const lost = new Map(views);
    lost.set('n1', { ...gpuNode('n1'), health: 'LOST' });
    lost.set('n2', gpuNode('n2'));
    fleet.syncNodes(lost);
    const ch = pass(fleet, () => ['a']);
    expect(fleet.replicasOf('a')).toEqual([expect.objectContaining({ nodeId: 'n2' })]);
    expect(ch.deletedReplicas.size).toBe(1);
    // n1's list is rewritten (empty) so that it stops the replica if it ever comes back.
    expect(assignments(ch).map((a) => [a.nodeId, a.replicas.length])).toEqual(
      expect.arrayContaining([
        ['n1', 0],
        ['n2', 1],
      ]),
    );
  });

  it('recomputes a node’s free capacity when its capacity changes, and forgets a removed node', () => {
    const { fleet } = fleetOf(gpuNode('n1', 1));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    fleet.syncNodes(new Map([['n1', gpuNode('n1', 4)]]));
    expect(fleet.free.get('n1')?.gpus.map((g) => g.index)).toEqual([1, 2, 3]);
    const ch = new Changes();
    fleet.removeNode('n1', ch);
    fleet.syncNodes(new Map());
    expect(fleet.free.has('n1')).toBe(false);
    expect(fleet.generation('n1')).toBe(0);
    expect(ch.outbox).toEqual([{ kind: 'kv-delete', bucket: 'assignments', key: 'n1' }]);
  });

  it('loads what the store holds, rebuilding free capacity from the replicas on each node', () => {
    const { fleet } = fleetOf(gpuNode('n1', 2));
    pass(fleet, (c) => (fleet.saveDesired(desired('a'), c) ? ['a'] : []));
    const apps = fleet
      .liveAppIds()
      .map((id) => fleet.app(id))
      .filter((a) => a !== undefined);
    const replicas = fleet.replicasOf('a');
    const again = new Fleet();
    again.load(apps, replicas, new Map([['n1', 1]]));
    again.syncNodes(new Map([['n1', gpuNode('n1', 2)]]));
    expect(again.free.get('n1')?.gpus.map((g) => g.index)).toEqual([1]);
    expect(again.generation('n1')).toBe(1);
    expect(again.appIdsOn(['n1'])).toEqual(new Set(['a']));
  });
});
