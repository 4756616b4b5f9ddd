import type { NodeAssignments } from '@gantry/contracts';
import { createTestDatabase, createTestNamespace, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';

import { appSpec, desiredState, heartbeat } from './__fixtures__/fleet.js';
import { startScheduler } from './bootstrap.js';
import { SchedulerConfigSchema } from './config.js';
import { SchedulerStore } from './store/scheduler-store.js';

const gpuSpec = appSpec({ name: 'gpu-app', image: 'img:1', gpus: 2 });

describe('operator controls over nodes', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  const timers: NodeJS.Timeout[] = [];
  let seq = 0;

  const hb = (nodeId: string) => heartbeat(nodeId, { gpus: 4, labels: { rack: nodeId } });
  const assigned = async (nodeId: string) =>
    ((await (await ns.bus.kv('assignments')).get(nodeId)) as NodeAssignments | null)?.replicas ?? [];
  const ready = (nodeId: string, replicaId: string, appId: string) =>
    ns.bus.publish('node.report.v1', {
      id: `r${++seq}`,
      nodeId,
      replicaId,
      appId,
      seq,
      at: new Date().toISOString(),
      phase: 'READY',
      endpoint: { address: '127.0.0.1', ports: { '8080': 30000 + seq } },
      restarts: 0,
      everReady: true,
    });

  beforeAll(async () => {
    db = await createTestDatabase('nodeadm');
    ns = await createTestNamespace('nodeadm');
    const config = SchedulerConfigSchema.parse({
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      LOG_LEVEL: 'error',
      HTTP_PORT: '0',
    });
    ({ app } = await startScheduler(config));
    for (const id of ['n1', 'n2']) {
      ns.bus.signal('node.heartbeat.v1', hb(id));
      timers.push(setInterval(() => ns.bus.signal('node.heartbeat.v1', hb(id)), 200));
    }
    await waitFor('both nodes', async () =>
      (await ns.bus.request('query.nodes.v1', {})).nodes.length === 2 ? true : undefined,
    );
  });

  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  it('shows each node, what is allocated, and which app holds which GPU', async () => {
    await ns.bus.publish('app.desired.v1', desiredState('gpu-app', gpuSpec));
    const node = await waitFor('the replica to be placed', async () => {
      const { nodes } = await ns.bus.request('query.nodes.v1', {});
      return nodes.find((n) => n.allocated.gpus === 2);
    });
    expect(node).toMatchObject({
      state: 'READY',
      simulatedGpus: true,
      capacity: { gpus: 4 },
      labels: { rack: node.id },
    });
    expect(node.gpus.filter((g) => g.appId === 'gpu-app').map((g) => g.index)).toEqual([0, 1]);
    expect(node.replicas).toEqual([expect.objectContaining({ appId: 'gpu-app', units: 2 })]);
    await expect(ns.bus.request('query.nodes.v1', { nodeId: 'nope' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const metrics = await (await fetch(`${await app.getUrl()}/metrics`)).text();
    expect(metrics).toMatch(/gantry_gpus\{model="NVIDIA H100 80GB HBM3",allocation="allocated"\} 2/);
  });

  it('drains: the replacement is placed elsewhere and the old replica leaves only once it is ready', async () => {
    // Node records answer from the scheduler's memory; assignment lists arrive through the outbox.
    const { from, old } = await waitFor('the replica in its node assignments', async () => {
      for (const nodeId of ['n1', 'n2']) {
        const found = (await assigned(nodeId)).find((r) => r.appId === 'gpu-app');
        if (found) return { from: nodeId, old: found };
      }
      return undefined;
    });
    const to = from === 'n1' ? 'n2' : 'n1';
    await ready(from, old.replicaId, 'gpu-app');
    const { node } = await ns.bus.request('command.node.v1', { nodeId: from, action: 'drain' });
    expect(node).toMatchObject({ state: 'DRAINING', schedulable: false, draining: true });
    const replacement = await waitFor('the replacement', async () =>
      (await assigned(to)).find((r) => r.appId === 'gpu-app'),
    );
    expect((await assigned(from)).map((r) => r.replicaId)).toEqual([old.replicaId]);
    await ready(to, replacement.replicaId, 'gpu-app');
    await waitFor('the old replica to be told to stop', async () =>
      (await assigned(from)).length === 0 ? true : undefined,
    );
    await expect(ns.bus.request('command.node.v1', { nodeId: from, action: 'delete' })).rejects.toMatchObject(
      {
        code: 'CONFLICT',
      },
    );
    await ns.bus.publish('node.report.v1', {
      id: `r${++seq}`,
      nodeId: from,
      replicaId: old.replicaId,
      appId: 'gpu-app',
      seq,
      at: new Date().toISOString(),
      phase: 'STOPPED',
      restarts: 0,
      everReady: true,
    });
    await waitFor('the node to be empty', async () => {
      const [n] = (await ns.bus.request('query.nodes.v1', { nodeId: from })).nodes;
      return n?.replicas.length === 0 ? true : undefined;
    });
  });

  it('cordons (nothing new lands), uncordons, and deletes an empty node', async () => {
    const { node } = await ns.bus.request('command.node.v1', { nodeId: 'n2', action: 'cordon' });
    expect(node?.state).toBe('CORDONED');
    const back = await ns.bus.request('command.node.v1', { nodeId: 'n2', action: 'uncordon' });
    expect(back.node?.state).toBe('READY');
    const drained = (await ns.bus.request('query.nodes.v1', {})).nodes.find((n) => n.replicas.length === 0);
    if (!drained) throw new Error('no empty node');
    clearInterval(timers.shift());
    clearInterval(timers.shift());
    const deleted = await ns.bus.request('command.node.v1', { nodeId: drained.id, action: 'delete' });
    expect(deleted.node).toBeNull();
    await expect(
      ns.bus.request('command.node.v1', { nodeId: 'ghost', action: 'cordon' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('records heartbeat times of many nodes in one write, never back in time, naming the nodes without a row', async () => {
    const store = app.get(SchedulerStore);
    const [known] = await store.nodes(); // (the test above removed one of the two)
    const id = known?.id ?? 'none';
    const at = Date.parse('2031-01-02T03:04:05.678Z');
    const gone = await store.touchHeartbeats(
      new Map([
        [id, at],
        ['nobody', at],
      ]),
    );
    expect(gone).toEqual(['nobody']);
    expect(await store.touchHeartbeats(new Map([[id, at - 60_000]]))).toEqual([]);
    const nodes = await store.nodes();
    expect(nodes.find((n) => n.id === id)?.lastHeartbeatAt.toISOString()).toBe('2031-01-02T03:04:05.678Z');
    expect(nodes.map((n) => n.id)).not.toContain('nobody');
  });
});
