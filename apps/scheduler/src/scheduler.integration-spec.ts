import {
  type AppDesired,
  type AppEvent,
  type AppEventBatch,
  AppEventSchema,
  type AppSpec,
  type AppStatusBatch,
  type AppStatusChanged,
  AppStatusChangedSchema,
  type NodeAssignments,
  type ReplicaReport,
  wireSubject,
} from '@gantry/contracts';
import { createDataSource, OutboxMessage, prepareDatabase, schemaDrift } from '@gantry/database';
import type { TypedKv } from '@gantry/messaging';
import { createTestDatabase, createTestNamespace, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';

import { appSpec, desiredState, GiB, heartbeat } from './__fixtures__/fleet.js';
import { SCHEDULER_ENTITIES, SCHEDULER_MIGRATIONS } from './app.module.js';
import { startScheduler } from './bootstrap.js';
import { SchedulerConfigSchema } from './config.js';

const spec = (replicas = 1): AppSpec => appSpec({ replicas, envVars: [{ name: 'GREETING', value: 'hi' }] });

describe('scheduler on real PostgreSQL and NATS', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  let assignments: TypedKv<'assignments'>;
  let routes: TypedKv<'routes'>;
  const statuses: AppStatusChanged[] = [];
  const events: AppEvent[] = [];
  const beating = new Map<string, NodeJS.Timeout>();
  let seq = 0;

  const beatOf = (nodeId: string) => heartbeat(nodeId, { cpus: 4, memory: 16 * GiB });
  const startBeating = (nodeId: string) => {
    ns.bus.signal('node.heartbeat.v1', beatOf(nodeId));
    beating.set(
      nodeId,
      setInterval(() => ns.bus.signal('node.heartbeat.v1', beatOf(nodeId)), 150),
    );
  };
  const stopBeating = (nodeId: string) => clearInterval(beating.get(nodeId));
  const desire = (appId: string, version: number, lifecycle: AppDesired['lifecycle'], s = spec()) =>
    ns.bus.publish('app.desired.v1', desiredState(appId, s, { version, lifecycle }));
  const report = (
    r: Omit<ReplicaReport, 'id' | 'seq' | 'at' | 'restarts' | 'everReady'> & Partial<ReplicaReport>,
  ) =>
    ns.bus.publish('node.report.v1', {
      id: `rep-${++seq}`,
      seq,
      at: new Date().toISOString(),
      restarts: 0,
      everReady: r.phase === 'READY',
      ...r,
    });
  const latest = (appId: string) =>
    statuses.filter((s) => s.appId === appId).sort((a, b) => b.version - a.version)[0];
  const stateOf = (appId: string, state: string) =>
    waitFor(`${appId} ${state}`, () => (latest(appId)?.state === state ? latest(appId) : undefined), {
      timeoutMs: 8000,
    });
  // The test's replicas are small: they travel inline in the list (see indexEntry).
  const assigned = async (nodeId: string) => (await assignments.get(nodeId)) as NodeAssignments | null;

  beforeAll(async () => {
    db = await createTestDatabase('sched');
    ns = await createTestNamespace('sched');
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'app.status.v2'), {
      callback: (_e, m) => {
        statuses.push(...m.json<AppStatusBatch>().statuses.map((x) => AppStatusChangedSchema.parse(x)));
      },
    });
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'app.event.v2'), {
      callback: (_e, m) => {
        events.push(...m.json<AppEventBatch>().events.map((x) => AppEventSchema.parse(x)));
      },
    });
    const config = SchedulerConfigSchema.parse({
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      NODE_NOT_READY_AFTER_MS: '600',
      NODE_LOST_AFTER_MS: '1500',
      RESYNC_INTERVAL_MS: '2000',
    });
    ({ app } = await startScheduler({ ...config, HTTP_PORT: 0, LOG_LEVEL: 'error' }));
    assignments = await ns.bus.kv('assignments');
    routes = await ns.bus.kv('routes');
    startBeating('n1');
  });

  afterAll(async () => {
    for (const t of beating.values()) clearInterval(t);
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  it('has migrations that match its entities', async () => {
    const ds = createDataSource({
      url: db.url,
      schema: 'scheduler',
      entities: [...SCHEDULER_ENTITIES, OutboxMessage],
      migrations: SCHEDULER_MIGRATIONS,
    });
    await prepareDatabase(ds);
    expect(await schemaDrift(ds)).toEqual([]);
    await ds.destroy();
  });

  it('places an app, assigns it to the node, and runs it once its replica is ready', async () => {
    await desire('app-a', 1, 'RUNNING');
    const scaling = await stateOf('app-a', 'SCALING');
    expect(scaling.history.map((h) => h.state)).toEqual(['QUEUED', 'INITIALIZING', 'SCALING']);
    expect(scaling.allocatedUnits).toBe(1);
    const a = await waitFor('assignment', async () => {
      const v = await assigned('n1');
      return v && v.replicas.length === 1 ? v : undefined;
    });
    const replica = a.replicas[0];
    expect(replica).toMatchObject({
      appId: 'app-a',
      projectId: 'p1',
      image: 'gantry-test/web:1',
      envVars: [{ name: 'GREETING', value: 'hi' }],
      ports: [8080],
      probe: { path: '/', port: 8080 },
      resources: { cpu: 1, memory: 4 * GiB, pids: 4096 },
      gpus: [],
    });
    if (!replica) return;
    await report({ nodeId: 'n1', replicaId: replica.replicaId, appId: 'app-a', phase: 'STARTING' });
    await report({
      nodeId: 'n1',
      replicaId: replica.replicaId,
      appId: 'app-a',
      phase: 'READY',
      endpoint: { address: '127.0.0.1', ports: { '8080': 32768 } },
    });
    const running = await stateOf('app-a', 'RUNNING');
    expect(running).toMatchObject({ availableReplicas: 1, allocatedUnits: 1, info: { code: 'APP_RUNNING' } });
    const route = await waitFor('route with endpoint', async () => {
      const r = await routes.get('app-a');
      return r?.endpoints.length ? r : undefined;
    });
    expect(route).toMatchObject({
      state: 'RUNNING',
      httpPort: 8080,
      endpoints: [
        { replicaId: replica.replicaId, nodeId: 'n1', address: '127.0.0.1', ports: { '8080': 32768 } },
      ],
    });
  });

  it('ignores stale reports and replays of old desired versions', async () => {
    const before = latest('app-a')?.version ?? 0;
    await desire('app-a', 1, 'STOPPED');
    await new Promise((r) => setTimeout(r, 500));
    expect(latest('app-a')?.state).toBe('RUNNING');
    expect(latest('app-a')?.version).toBe(before);
  });

  it('stops (STOPPING → STOPPED, node told to drop it) and starts again', async () => {
    const replicaId = (await assigned('n1'))?.replicas[0]?.replicaId ?? '';
    await desire('app-a', 2, 'STOPPED');
    await stateOf('app-a', 'STOPPING');
    await waitFor('assignment emptied', async () =>
      (await assigned('n1'))?.replicas.length === 0 ? true : undefined,
    );
    expect((await routes.get('app-a'))?.endpoints).toEqual([]);
    await report({ nodeId: 'n1', replicaId, appId: 'app-a', phase: 'STOPPED' });
    const stopped = await stateOf('app-a', 'STOPPED');
    expect(stopped.allocatedUnits).toBe(0);
    expect((await routes.get('app-a'))?.state).toBe('STOPPED');
    await desire('app-a', 3, 'RUNNING');
    await stateOf('app-a', 'SCALING');
    const again = await waitFor('re-assignment', async () => (await assigned('n1'))?.replicas[0]);
    expect(again.replicaId).not.toBe(replicaId);
  });

  it('fails an app whose replica crashes before it is ever ready, and frees the node', async () => {
    await desire('app-b', 1, 'RUNNING');
    const r = await waitFor('app-b assignment', async () =>
      (await assigned('n1'))?.replicas.find((x) => x.appId === 'app-b'),
    );
    await report({
      nodeId: 'n1',
      replicaId: r.replicaId,
      appId: 'app-b',
      phase: 'FAILED',
      reason: 'APP_CRASH_LOOP',
      exitCode: 3,
      message: 'container exited with code 3 before it was ever ready; last lines: boom',
    });
    const failed = await stateOf('app-b', 'FAILED');
    expect(failed.info).toEqual({
      code: 'APP_CRASH_LOOP',
      message: 'container exited with code 3 before it was ever ready; last lines: boom',
    });
    await waitFor('app-b unassigned', async () =>
      (await assigned('n1'))?.replicas.some((x) => x.appId === 'app-b') ? undefined : true,
    );
  });

  it('queues an app that fits nowhere, naming the blocking resource, and places it when capacity appears', async () => {
    const big = spec();
    big.resources = { ...big.resources, units: 8, cpu: 8, memory: 32 * GiB };
    await desire('app-c', 1, 'RUNNING', big);
    const queued = await waitFor('queued with reason', () =>
      latest('app-c')?.info.message.includes('needs 8 CPUs') ? latest('app-c') : undefined,
    );
    expect(queued.state).toBe('QUEUED');
    ns.bus.signal('node.heartbeat.v1', {
      ...beatOf('n-big'),
      capacity: { cpus: 16, memory: 64 * GiB, gpus: [] },
    });
    const bigBeat = setInterval(
      () =>
        ns.bus.signal('node.heartbeat.v1', {
          ...beatOf('n-big'),
          capacity: { cpus: 16, memory: 64 * GiB, gpus: [] },
        }),
      150,
    );
    beating.set('n-big', bigBeat);
    await stateOf('app-c', 'SCALING');
    expect((await assigned('n-big'))?.replicas.map((x) => x.appId)).toEqual(['app-c']);
  });

  it('moves the replicas of a lost node elsewhere', async () => {
    const onN1 = (await assigned('n1'))?.replicas.find((x) => x.appId === 'app-a');
    expect(onN1).toBeDefined();
    startBeating('n2');
    stopBeating('n1');
    const moved = await waitFor(
      'a replacement on a surviving node',
      async () => {
        for (const node of ['n2', 'n-big']) {
          const r = (await assigned(node))?.replicas.find((x) => x.appId === 'app-a');
          if (r) return r;
        }
        return undefined;
      },
      { timeoutMs: 8000 },
    );
    expect(moved.replicaId).not.toBe(onN1?.replicaId);
    // Fencing: the lost node's list no longer holds the replica, under a higher generation.
    const n1 = await assigned('n1');
    expect(n1?.replicas.some((x) => x.appId === 'app-a')).toBe(false);
  });

  it('deletes a failed app', async () => {
    await desire('app-b', 2, 'DELETED');
    await stateOf('app-b', 'DELETED');
    expect(await routes.get('app-b')).toBeNull();
  });

  it('rolls a changed image out replica by replica, keeping the old one serving while the new one fails', async () => {
    const nodeIds = ['n1', 'n2', 'n-big'];
    const replicasOf = async (appId: string) => {
      const out = [];
      for (const n of nodeIds)
        for (const r of (await assigned(n))?.replicas ?? [])
          if (r.appId === appId) out.push({ ...r, nodeId: n });
      return out;
    };
    const withReplicas = (what: string, ok: (rs: Awaited<ReturnType<typeof replicasOf>>) => boolean) =>
      waitFor(
        what,
        async () => {
          const rs = await replicasOf('app-r');
          return ok(rs) ? rs : undefined;
        },
        { timeoutMs: 8000 },
      );
    const ready = (r: { nodeId: string; replicaId: string }) =>
      report({
        nodeId: r.nodeId,
        replicaId: r.replicaId,
        appId: 'app-r',
        phase: 'READY',
        endpoint: { address: '127.0.0.1', ports: { '8080': 31000 + seq } },
      });

    // v1 runs, with one ready replica.
    await desire('app-r', 1, 'RUNNING');
    const [old] = await withReplicas('first replica', (rs) => rs.length === 1);
    if (!old) throw new Error('no replica');
    await ready(old);
    await stateOf('app-r', 'RUNNING');

    // A label change (new desired version, same runtime spec) replaces nothing.
    const statusBefore = latest('app-r')?.version;
    await desire('app-r', 2, 'RUNNING', { ...spec(), labels: { team: 'blue' } });
    await new Promise((r) => setTimeout(r, 600));
    expect((await replicasOf('app-r')).map((r) => r.replicaId)).toEqual([old.replicaId]);
    expect(latest('app-r')).toMatchObject({ state: 'RUNNING', version: statusBefore });

    // A new image that cannot start: the new replica fails, the old one keeps serving.
    await desire('app-r', 3, 'RUNNING', { ...spec(), image: 'gantry-test/missing:1' });
    const scaling = await stateOf('app-r', 'SCALING');
    expect(scaling.info.message).toContain('rolling update (image changed to gantry-test/missing:1)');
    const withBad = await withReplicas('surge replica', (rs) => rs.length === 2);
    const bad = withBad.find((r) => r.replicaId !== old.replicaId);
    expect(bad).toMatchObject({ image: 'gantry-test/missing:1' });
    await report({
      nodeId: bad?.nodeId ?? '',
      replicaId: bad?.replicaId ?? '',
      appId: 'app-r',
      phase: 'FAILED',
      reason: 'APP_CREATE_ERROR',
      message: 'image gantry-test/missing:1 not found',
    });
    const stuck = await waitFor('rollout stuck', () =>
      latest('app-r')?.info.message.includes('rollout stuck') ? latest('app-r') : undefined,
    );
    expect(stuck).toMatchObject({ state: 'SCALING', availableReplicas: 1 });
    expect(stuck.info.message).toContain('image gantry-test/missing:1 not found');
    expect((await replicasOf('app-r')).map((r) => r.replicaId)).toContain(old.replicaId);
    expect((await routes.get('app-r'))?.endpoints.map((e) => e.replicaId)).toEqual([old.replicaId]);

    // A fixed image: the failed replica goes (it holds the surge's place until its node reports it
    // gone), a new one starts; the old one goes once it is ready.
    await desire('app-r', 4, 'RUNNING', { ...spec(), image: 'gantry-test/web:2' });
    await withReplicas('failed replica unassigned', (rs) => rs.length === 1);
    expect(latest('app-r')?.allocatedUnits).toBeLessThanOrEqual(2);
    await report({
      nodeId: bad?.nodeId ?? '',
      replicaId: bad?.replicaId ?? '',
      appId: 'app-r',
      phase: 'STOPPED',
    });
    const withFresh = await withReplicas(
      'replica of the fixed image',
      (rs) => rs.length === 2 && rs.some((r) => r.image === 'gantry-test/web:2'),
    );
    const fresh = withFresh.find((r) => r.replicaId !== old.replicaId);
    expect(fresh).toMatchObject({ image: 'gantry-test/web:2' });
    expect(latest('app-r')?.availableReplicas).toBe(1);
    if (!fresh) return;
    await ready(fresh);
    await withReplicas(
      'old replica unassigned',
      (rs) => rs.length === 1 && rs[0]?.replicaId === fresh.replicaId,
    );
    await report({ nodeId: old.nodeId, replicaId: old.replicaId, appId: 'app-r', phase: 'STOPPED' });
    const running = await stateOf('app-r', 'RUNNING');
    expect(running).toMatchObject({ availableReplicas: 1, info: { code: 'APP_RUNNING' } });
    // Never 0 ready replicas in between.
    const during = statuses.filter((x) => x.appId === 'app-r' && x.version > (statusBefore ?? 0));
    expect(during.every((x) => x.availableReplicas >= 1)).toBe(true);
    const why = await waitFor('replacement event', () =>
      events.find(
        (e) => e.appId === 'app-r' && e.type === 'REPLICA_REMOVED' && e.replicaId === old.replicaId,
      ),
    );
    expect(why.message).toBe(`replica ${old.replicaId} replaced: image changed to gantry-test/web:2`);
  });
});
