import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { createTestDatabase, createTestNamespace, viaIngress, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';

// eslint-disable-next-line @nx/enforce-module-boundaries -- the launcher npm run up, the e2e setup and the benchmarks share; not an Nx project
import { freePort, freePorts, type Platform, startPlatform } from '../../scripts/platform.mjs';
import { type AppObject, E } from './platform.js';

/**
 * The GPU fleet as an operator tries it: three node agents on this machine sharing the Docker Engine
 * (each its own node id, port and simulated GPUs), an app with two replicas on two hosts called in a
 * loop while hosts are lost, return, restart and are drained. This suite kills and restarts agents,
 * so it runs a platform of its own (own database, namespace and ports) rather than the shared one.
 */
describe('a fleet of three hosts', () => {
  const docker = new Docker();
  const id = randomBytes(3).toString('hex');
  const nodes = ['a', 'b', 'c'].map((x) => `fleet-${id}-${x}`);
  const token = `fleet-admin-${randomBytes(16).toString('hex')}`;
  let platform: Platform;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let apiUrl: string;
  let ingressUrl: string;
  let app: AppObject;

  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const status = async () => (await call<AppObject>('GET', `/v1/app/${app.id}`)).body.status;
  const containers = async (node?: string) =>
    docker.listContainers({
      filters: {
        label: [
          `gantry.namespace=${ns.namespace}`,
          `gantry.app=${app.id}`,
          ...(node ? [`gantry.node=${node}`] : []),
        ],
      },
    });
  const nodesOfApp = async () => (await containers()).map((c) => c.Labels['gantry.node']).sort();
  const agent = (node: string) => {
    const s = platform.services.find((x) => x.label === `node-agent:${node}`);
    if (!s) throw new Error(`no agent ${node}`);
    return s;
  };
  const killAgent = async (node: string) => {
    const { proc } = agent(node);
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  };

  /** Calls the app through the ingress one request at a time until stopped; counts what failed. */
  function load() {
    const served = new Map<string, number>();
    const failures: string[] = [];
    let requests = 0;
    let on = true;
    const done = (async () => {
      while (on) {
        requests++;
        try {
          const r = await viaIngress(ingressUrl, `${app.id}.app.localhost`, '/', { timeoutMs: 5000 });
          if (r.status !== 200) failures.push(`${r.status} ${r.text.slice(0, 200)}`);
          const replica = r.headers['x-gantry-replica'];
          if (typeof replica === 'string') served.set(replica, (served.get(replica) ?? 0) + 1);
        } catch (error) {
          failures.push(String(error));
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    return {
      served,
      failures,
      get requests() {
        return requests;
      },
      stop: async () => {
        on = false;
        await done;
      },
    };
  }

  beforeAll(async () => {
    db = await createTestDatabase('fleet');
    ns = await createTestNamespace('fleet');
    const ports = await freePorts();
    const agents = [];
    for (const [i, n] of nodes.entries())
      agents.push({
        id: n,
        cpus: 4,
        simulatedGpus: '2:h100',
        port: i === 0 ? ports.agent : await freePort(),
      });
    platform = await startPlatform({
      natsUrl: ns.natsUrl,
      databaseUrl: db.url,
      namespace: ns.namespace,
      adminToken: token,
      ports,
      logDir: join(E.logDir, 'fleet'),
      agents,
      timings: {
        agent: { HEARTBEAT_INTERVAL_MS: 500, ORPHAN_GRACE_MS: 3000, RESYNC_INTERVAL_MS: 1000 },
        scheduler: { NODE_NOT_READY_AFTER_MS: 1500, NODE_LOST_AFTER_MS: 4000, RESYNC_INTERVAL_MS: 2000 },
        gateway: { RATE_LIMIT_PER_SECOND: 200, RATE_LIMIT_BURST: 1000 },
      },
    });
    apiUrl = `http://127.0.0.1:${ports.api}`;
    ingressUrl = `http://127.0.0.1:${ports.ingress}`;
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`gantry.namespace=${ns.namespace}`] },
    }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await ns?.destroy();
    await db?.drop();
  }, 60_000);

  it('lists the three hosts with their simulated GPUs', async () => {
    const list = await waitFor('three READY nodes', async () => {
      const r = await call<{
        items: {
          id: string;
          state: string;
          simulatedGpus: boolean;
          capacity: { gpus: number };
          gpus: { model: string; memory: number }[];
        }[];
      }>('GET', '/v1/node');
      return r.body.items.filter((n) => n.state === 'READY').length === 3 ? r.body.items : undefined;
    });
    expect(list.map((n) => n.id).sort()).toEqual(nodes);
    for (const n of list) {
      expect(n).toMatchObject({ simulatedGpus: true, capacity: { gpus: 2 } });
      // In bytes, as every memory figure (nvidia-smi's 81,559 MiB for an H100).
      expect(n.gpus).toEqual(
        [0, 1].map(() =>
          expect.objectContaining({ model: 'NVIDIA H100 80GB HBM3', memory: 81_559 * 2 ** 20 }),
        ),
      );
    }
  });

  it('spreads two replicas over two hosts, both behind the one URL', async () => {
    const created = await call<AppObject>('POST', '/v1/app', {
      image: E.images.web,
      resources: { cpu: 1 },
      unsecureHttp: true,
      scalingStrategy: { fixed: { replicas: 2 } },
    });
    expect(created.status).toBe(200);
    app = created.body;
    await waitFor('two available replicas', async () => (await status()).availableReplicas === 2, {
      timeoutMs: 60_000,
    });
    const on = await nodesOfApp();
    expect(on).toHaveLength(2);
    expect(new Set(on).size).toBe(2);
    const l = load();
    await waitFor('both replicas serving', async () => l.served.size === 2);
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  it('loses a host during traffic: no request fails, and the app is back to two replicas elsewhere', async () => {
    const l = load();
    await waitFor('traffic', async () => l.requests > 5);
    const [victim = ''] = await nodesOfApp();
    const before = new Set(l.served.keys());
    await killAgent(victim); // its container keeps running: a partitioned host, not a dead one
    await waitFor(
      'a replacement replica serving',
      async () => [...l.served.keys()].some((r) => !before.has(r)),
      { timeoutMs: 30_000 },
    );
    await waitFor('two available replicas', async () => (await status()).availableReplicas === 2, {
      timeoutMs: 30_000,
    });
    await l.stop();
    expect(l.failures).toEqual([]);
    const survivors = (await containers()).filter((c) => c.Labels['gantry.node'] !== victim);
    expect(new Set(survivors.map((c) => c.Labels['gantry.node'])).size).toBe(2);

    // The host comes back: fenced by the assignment generation, it stops what it no longer runs.
    await platform.restart(`node-agent:${victim}`);
    await waitFor('the returning host to run nothing', async () => (await containers(victim)).length === 0, {
      timeoutMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 2000));
    expect(await containers(victim)).toHaveLength(0);
    expect(await nodesOfApp()).toHaveLength(2);
    expect((await status()).availableReplicas).toBe(2);
  });

  it('re-adopts its containers when an agent restarts, instead of recreating them', async () => {
    const [node = ''] = await nodesOfApp();
    const before = (await containers(node)).map((c) => c.Id);
    expect(before).toHaveLength(1);
    await killAgent(node);
    await platform.restart(`node-agent:${node}`);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await containers(node)).map((c) => c.Id)).toEqual(before);
    expect(await nodesOfApp()).toHaveLength(2);
    expect((await status()).availableReplicas).toBe(2);
  });

  it('drains a host under load: its replica moves, no request fails, and the drained host can be deleted', async () => {
    const [node = ''] = await nodesOfApp();
    const l = load();
    await waitFor('traffic', async () => l.requests > 5);
    const drained = await call('PUT', `/v1/node/${node}/drain`);
    expect(drained.status).toBeLessThan(300);
    await waitFor('the drained host to run nothing', async () => (await containers(node)).length === 0, {
      timeoutMs: 60_000,
    });
    await waitFor('two available replicas', async () => (await status()).availableReplicas === 2, {
      timeoutMs: 30_000,
    });
    await l.stop();
    expect(l.failures).toEqual([]);
    expect(await nodesOfApp()).not.toContain(node);
    const record = await call<{ state: string }>('GET', `/v1/node/${node}`);
    expect(record.body.state).toBe('DRAINING');

    // Refused while its agent still reports; once it is gone for good, the operator removes it.
    await killAgent(node);
    await waitFor(
      'the node to be deleted',
      async () => {
        const r = await call('DELETE', `/v1/node/${node}`);
        return r.status < 300;
      },
      { timeoutMs: 30_000 },
    );
    expect((await call('GET', `/v1/node/${node}`)).status).toBe(404);
  });

  it('an app stopped while an agent is down and its container vanished still reaches STOPPED once the agent is back', async () => {
    const [node = ''] = await nodesOfApp();
    const since = new Date().toISOString();
    await killAgent(node);
    // While the agent is down (back before its host is declared lost), the app is stopped and the
    // container vanishes (as npm run up's Ctrl-C removes them): no report will ever say it went.
    for (const c of await containers(node)) await docker.getContainer(c.Id).remove({ force: true });
    expect((await call('PUT', `/v1/app/${app.id}/stop`)).status).toBeLessThan(300);
    await platform.restart(`node-agent:${node}`);
    await waitFor('STOPPED', async () => (await status()).state === 'STOPPED', { timeoutMs: 20_000 });
    expect(await containers()).toEqual([]);
    // Not because the host was lost meanwhile: its agent's heartbeat said the replica was gone.
    const events = await call<{ events: Array<{ at: string; message: string }> }>(
      'GET',
      `/v1/app/${app.id}/event`,
    );
    expect(events.body.events.filter((e) => e.at >= since && e.message.includes('which is lost'))).toEqual(
      [],
    );
    // And it starts again.
    expect((await call('PUT', `/v1/app/${app.id}/start`)).status).toBeLessThan(300);
    await waitFor('RUNNING again', async () => (await status()).state === 'RUNNING', { timeoutMs: 60_000 });
  });
});
