import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  type NodeUsage,
  NodeUsageSchema,
  REPLICA_SCRAPE_MAX_BYTES,
  type ReplicaAssignment,
  type ReplicaReport,
  wireSubject,
} from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { runService } from '@gantry/runtime';
import {
  buildTestImage,
  createTestNamespace,
  removeImage,
  type TestNamespace,
  uniqueName,
  waitFor,
  webAppSpec,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import Docker from 'dockerode';

import { NodeAgentModule, SERVICE } from './app.module.js';
import { NodeAgentConfigSchema } from './config.js';
import { LABELS } from './model/ownership.js';

const MiB = 1024 ** 2;

/**
 * What the autoscaler gets from a node agent on the real Docker Engine and NATS: `node.usage.v1`
 * with each replica's CPU and memory, and `query.replica-scrape.v1` answered from a replica's own
 * HTTP server. The test plays the scheduler (KV `assignments`) and the autoscaler.
 */
describe('node-agent usage and scrapes on the real Docker Engine and NATS', () => {
  const docker = new Docker();
  const run = uniqueName('nu').toLowerCase();
  const image = `gantry-test/${run}-metrics:1`;
  const NODE = `node-${run}`;
  let ns: TestNamespace;
  let stateDir: string;
  let app: INestApplication | undefined;
  let generation = 0;
  const usage: NodeUsage[] = [];
  const reports: ReplicaReport[] = [];

  const replica = (replicaId: string, over: Partial<ReplicaAssignment> = {}): ReplicaAssignment => ({
    replicaId,
    appId: `app-${replicaId}`,
    projectId: 'proj-1',
    image,
    envVars: [],
    ports: [8080],
    probe: { path: '/', port: 8080 },
    resources: { cpu: 1, memory: 64 * MiB, pids: 64 },
    gpus: [],
    ...over,
  });
  const assign = (replicas: ReplicaAssignment[]) =>
    ns.bus.kv('assignments').then((kv) =>
      kv.put(NODE, {
        nodeId: NODE,
        generation: ++generation,
        updatedAt: new Date().toISOString(),
        replicas,
      }),
    );
  const ready = (replicaId: string) =>
    waitFor(`${replicaId} READY`, () =>
      reports.find((r) => r.replicaId === replicaId && r.phase === 'READY'),
    );
  const usageOf = (replicaId: string, from: number) =>
    usage
      .slice(from)
      .flatMap((u) => u.replicas)
      .filter((r) => r.replicaId === replicaId);
  const containersOf = (replicaId: string) =>
    docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.replica}=${replicaId}`] },
    });
  const scrape = (replicaId: string, path = '/metrics', timeoutMs = 2000) =>
    ns.bus.request(
      'query.replica-scrape.v1',
      { replicaId, port: 8080, path, timeoutMs },
      timeoutMs + 2000,
      NODE,
    );
  const scrapeFailure = (replicaId: string, path?: string, timeoutMs?: number) =>
    scrape(replicaId, path, timeoutMs).then(
      (answer) => answer,
      (e: unknown) => (e instanceof GantryError ? { code: e.code, message: e.message } : e),
    );

  beforeAll(async () => {
    ns = await createTestNamespace('nu');
    stateDir = await mkdtemp(join(tmpdir(), 'gantry-node-usage-'));
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'node.usage.v1'), {
      callback: (error, m) => {
        if (!error) usage.push(m.json<NodeUsage>());
      },
    });
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'node.report.v1'), {
      callback: (error, m) => {
        if (!error) reports.push(m.json<ReplicaReport>());
      },
    });
    await ns.bus.nc.flush();
    const web = webAppSpec('metrics');
    await buildTestImage(docker, image, {
      ...web,
      files: {
        ...web.files,
        '/www/metrics': '# TYPE queue_depth gauge\nqueue_depth 7\n',
        '/www/huge': 'x'.repeat(REPLICA_SCRAPE_MAX_BYTES + 1),
      },
    });
    const config = NodeAgentConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      NODE_ID: NODE,
      NODE_ADDRESS: '127.0.0.1',
      USAGE_INTERVAL_MS: '500',
      STATE_DIR: stateDir,
      LOG_LEVEL: 'error',
    });
    app = await runService({
      name: SERVICE,
      module: NodeAgentModule.forRoot(config, {
        probeTiming: { fastMs: 100, slowMs: 300, timeoutMs: 500, failureThreshold: 3 },
      }),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
    });
  });

  afterAll(async () => {
    await app?.close();
    const mine = await docker
      .listContainers({ all: true, filters: { label: [`${LABELS.namespace}=${ns?.namespace}`] } })
      .catch(() => []);
    await Promise.all(
      mine.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    await removeImage(docker, image);
    await ns?.destroy();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('reports a replica burning a CPU as more than half a CPU, and an idle one as under a tenth', async () => {
    // The burner keeps its port answering (httpd in the background) so that it is READY like any app.
    const burner = replica('r-burn', {
      command: ['/bin/sh', '-c', 'httpd -p 8080 -h /www; while :; do :; done'],
    });
    await assign([burner, replica('r-idle')]);
    await Promise.all([ready('r-burn'), ready('r-idle')]);
    const from = usage.length;
    const busy = await waitFor(
      'r-burn above 0.5 CPU',
      () => {
        const figures = usageOf('r-burn', from);
        const found = figures.find((r) => r.cpu > 0.5);
        if (!found) throw new Error(`figures of r-burn so far: ${JSON.stringify(figures.map((r) => r.cpu))}`);
        return found;
      },
      // Readings come about once a second (Docker's stats collector): a few of them.
      { timeoutMs: 6000 },
    );
    expect(busy.cpu).toBeLessThanOrEqual(1.1); // limited to one CPU
    const idle = await waitFor('a figure for r-idle', () => usageOf('r-idle', from).at(-1));
    expect(idle.cpu).toBeLessThan(0.1);
    for (const r of [busy, idle]) {
      expect(r.memory).toBeGreaterThan(0);
      expect(r.memory).toBeLessThan(64 * MiB);
      expect(r).not.toHaveProperty('gpu');
    }
    const signal = usage.slice(from).find((u) => u.replicas.some((r) => r.replicaId === 'r-burn'));
    expect(NodeUsageSchema.parse(signal)).toEqual(signal);
    expect(signal).toMatchObject({ nodeId: NODE });
    expect(signal?.intervalMs).toBeGreaterThanOrEqual(400);
    expect(signal?.intervalMs).toBeLessThan(3000);

    // Stop the burner: the node's CPUs are shared.
    await assign([replica('r-idle')]);
    await waitFor('the burner removed', async () => (await containersOf('r-burn')).length === 0);
    const after = usage.length;
    await waitFor('a signal without the burner', () => usage.length > after + 1);
    expect(usageOf('r-burn', after + 1)).toEqual([]);
  });

  it('answers a scrape with what the replica serves on its container address', async () => {
    await ready('r-idle');
    // busybox httpd names no type for a file without an extension.
    expect(await scrape('r-idle')).toEqual({
      status: 200,
      body: '# TYPE queue_depth gauge\nqueue_depth 7\n',
    });
    expect(await scrape('r-idle', '/')).toEqual({
      status: 200,
      contentType: 'text/html',
      body: 'hello from metrics\n',
    });
    expect(await scrapeFailure('r-idle', '/no-such-metrics')).toMatchObject({ status: 404 });
    expect(await scrapeFailure('r-idle', '/huge')).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringMatching(
        new RegExp(
          `^replica r-idle: GET http://[\\d.]+:8080/huge: the body .*over the ${REPLICA_SCRAPE_MAX_BYTES} bytes allowed$`,
        ),
      ),
    });
  });

  it('answers NOT_FOUND for a replica it does not run, and UNAVAILABLE for a closed port', async () => {
    expect(await scrapeFailure('r-elsewhere')).toEqual({
      code: 'NOT_FOUND',
      message: `replica r-elsewhere does not run on node ${NODE}`,
    });
    const closed = await ns.bus
      .request(
        'query.replica-scrape.v1',
        { replicaId: 'r-idle', port: 9, path: '/', timeoutMs: 2000 },
        4000,
        NODE,
      )
      .catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(GantryError);
    expect(closed).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/^replica r-idle: GET http:\/\/[\d.]+:9\/: connection refused$/),
    });
  });
});
