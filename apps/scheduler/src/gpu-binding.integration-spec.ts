import {
  type AppStatusBatch,
  type AppStatusChanged,
  AppStatusChangedSchema,
  type NodeAssignments,
  wireSubject,
} from '@gantry/contracts';
import { createTestDatabase, createTestNamespace, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';

import { appSpec, desiredState, GiB, heartbeat } from './__fixtures__/fleet.js';
import { startScheduler } from './bootstrap.js';
import { SchedulerConfigSchema } from './config.js';

const oneGpu = appSpec({ image: 'img:1', memory: 2 * GiB, gpus: 1 });

/**
 * Many GPU apps asked for at once: every GPU is bound to one replica at most, the apps that fit
 * nowhere stay QUEUED naming the GPUs they wait for, and are placed as soon as a host brings more.
 */
describe('GPU binding under concurrent requests', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  const timers: NodeJS.Timeout[] = [];
  const statuses = new Map<string, AppStatusChanged>();
  const apps = Array.from({ length: 12 }, (_, i) => `gpu-app-${i}`);

  /** GPUs each node advertises (4 unless changed: a host back with fewer). */
  const gpuCount = new Map<string, number>();
  const hb = (nodeId: string) => heartbeat(nodeId, { gpus: gpuCount.get(nodeId) ?? 4 });
  const everFailed = new Set<string>();
  const beat = (nodeId: string) => {
    ns.bus.signal('node.heartbeat.v1', hb(nodeId));
    timers.push(setInterval(() => ns.bus.signal('node.heartbeat.v1', hb(nodeId)), 200));
  };
  /** Every bound GPU uuid, with the replica holding it, over every node's assignment list. */
  const bound = async (nodes: string[]) => {
    const kv = await ns.bus.kv('assignments');
    const out: Array<{ uuid: string; appId: string }> = [];
    for (const n of nodes) {
      const list = (await kv.get(n)) as NodeAssignments | null;
      for (const r of list?.replicas ?? [])
        for (const g of r.gpus) out.push({ uuid: g.uuid, appId: r.appId });
    }
    return out;
  };

  beforeAll(async () => {
    db = await createTestDatabase('gpubind');
    ns = await createTestNamespace('gpubind');
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'app.status.v2'), {
      callback: (_e, m) => {
        for (const s of m.json<AppStatusBatch>().statuses.map((x) => AppStatusChangedSchema.parse(x))) {
          if (s.state === 'FAILED' || s.state === 'ERROR') everFailed.add(s.appId);
          const prev = statuses.get(s.appId);
          if (!prev || prev.version < s.version) statuses.set(s.appId, s);
        }
      },
    });
    const config = SchedulerConfigSchema.parse({
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      LOG_LEVEL: 'error',
      HTTP_PORT: '0',
    });
    ({ app } = await startScheduler(config));
    beat('g1');
    beat('g2');
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

  it('binds each of the 8 GPUs once when 12 one-GPU apps arrive together; the other 4 wait, saying why', async () => {
    await Promise.all(apps.map((appId) => ns.bus.publish('app.desired.v1', desiredState(appId, oneGpu))));
    const gpus = await waitFor('8 GPUs bound and 4 apps queued', async () => {
      const b = await bound(['g1', 'g2']);
      const queued = apps.filter((a) => statuses.get(a)?.state === 'QUEUED' && statuses.get(a)?.info.message);
      return b.length === 8 && queued.length === 4 ? b : undefined;
    });
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    expect(new Set(gpus.map((g) => g.appId)).size).toBe(8);
    const waiting = apps.filter((a) => !gpus.some((g) => g.appId === a));
    for (const a of waiting) expect(statuses.get(a)?.info.message).toMatch(/GPU/);
  });

  it('places the waiting apps as soon as a host brings GPUs, still never sharing one', async () => {
    beat('g3');
    const gpus = await waitFor('12 GPUs bound', async () => {
      const b = await bound(['g1', 'g2', 'g3']);
      return b.length === 12 ? b : undefined;
    });
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(12);
    expect(new Set(gpus.map((g) => g.appId))).toEqual(new Set(apps));
  });

  it('moves replicas bound to GPUs a host no longer has (back with fewer), never failing their apps', async () => {
    const before = await bound(['g3']);
    gpuCount.set('g3', 2);
    // Its GPUs 2 and 3 are gone: their two apps wait for GPUs elsewhere (the fleet is full) …
    const moved = before.filter((g) => g.uuid === 'GPU-g3-2' || g.uuid === 'GPU-g3-3').map((g) => g.appId);
    expect(moved).toHaveLength(2);
    await waitFor('g3 keeps only its GPUs 0 and 1, two apps waiting for a GPU', async () => {
      const left = (await bound(['g3'])).map((g) => g.uuid).sort();
      const waiting = moved.filter(
        (a) =>
          statuses.get(a)?.state === 'SCALING' &&
          /waiting for capacity: needs 1 × H100/.test(statuses.get(a)?.info.message ?? ''),
      );
      return left.join() === 'GPU-g3-0,GPU-g3-1' && waiting.length === 2 ? true : undefined;
    });
    // … and are placed as soon as a host brings some.
    beat('g4');
    const gpus = await waitFor('12 GPUs bound again', async () => {
      const b = await bound(['g1', 'g2', 'g3', 'g4']);
      return b.length === 12 ? b : undefined;
    });
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(12);
    expect(gpus.filter((g) => moved.includes(g.appId)).every((g) => g.uuid.startsWith('GPU-g4-'))).toBe(true);
    expect([...everFailed]).toEqual([]);
  });
});
