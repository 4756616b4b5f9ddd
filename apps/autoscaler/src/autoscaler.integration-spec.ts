import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  type AppScale,
  AppScaleSchema,
  type AutomaticScaling,
  type ScalingEntry,
  wireSubject,
} from '@gantry/contracts';
import type { TypedKv } from '@gantry/messaging';
import { runService } from '@gantry/runtime';
import { createTestNamespace, type TestNamespace, uniqueName, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Subscription } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';

import { AutoscalerModule, SERVICE } from './app.module.js';
import { Autoscaler } from './autoscaler.js';
import { AutoscalerConfigSchema } from './config.js';

const appId = (prefix: string): string => uniqueName(prefix).replaceAll('_', '-');

function entry(id: string, replicas: number, automatic: Partial<AutomaticScaling>): ScalingEntry {
  const now = new Date().toISOString();
  return {
    appId: id,
    projectId: 'p1',
    version: 1,
    updatedAt: now,
    desiredVersion: 1,
    state: 'RUNNING',
    automatic: {
      replicasMin: 1,
      replicasMax: 4,
      scaleUpStabilizationWindowSeconds: 0,
      scaleDownStabilizationWindowSeconds: 300,
      ...automatic,
    },
    replicas,
    replicasSince: now,
    perReplica: { cpu: 1, memory: 1 << 30, gpu: 0 },
    ready: Array.from({ length: replicas }, (_, i) => ({ replicaId: `${id}-r${i}`, nodeId: 'node-1' })),
  };
}

describe('autoscaler on real NATS', () => {
  let ns: TestNamespace;
  let app: INestApplication;
  let autoscaler: Autoscaler;
  let scaling: TypedKv<'scaling'>;
  let url: string;
  let sub: Subscription;
  const scales: AppScale[] = [];
  /** What the loopback custom metric endpoint answers. */
  let metricsBody = '';
  let metricsServer: Server;
  let metricsPort: number;

  const scalesOf = (id: string): AppScale[] => scales.filter((s) => s.appId === id);

  beforeAll(async () => {
    ns = await createTestNamespace('autoscaler');
    scaling = await ns.bus.kv('scaling');
    sub = ns.bus.nc.subscribe(wireSubject(ns.namespace, 'app.scale.v1'), {
      callback: (err, msg) => {
        if (!err) scales.push(AppScaleSchema.parse(msg.json()));
      },
    });
    metricsServer = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.end(metricsBody);
    });
    await new Promise<void>((r) => metricsServer.listen(0, '127.0.0.1', r));
    metricsPort = (metricsServer.address() as AddressInfo).port;
    const config = AutoscalerConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      HTTP_PORT: '0',
      // The test ticks by itself (a wake must not wait for a tick); polls run on their own.
      AUTOSCALER_INTERVAL_MS: '60000',
      AUTOSCALER_METRIC_WINDOW_MS: '2000',
      AUTOSCALER_METRICS_INTERVAL_MS: '200',
      AUTOSCALER_METRICS_TIMEOUT_MS: '1000',
      AUTOSCALER_READY_GRACE_MS: '500',
      LOG_LEVEL: 'error',
    });
    app = await runService({
      name: SERVICE,
      module: AutoscalerModule.forRoot(config),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
      messaging: { service: SERVICE, natsUrl: ns.natsUrl, namespace: ns.namespace },
    });
    autoscaler = app.get(Autoscaler);
    url = await app.getUrl();
    await waitFor('readiness', async () => (await fetch(`${url}/readyz`)).status === 200);
  });

  afterAll(async () => {
    sub?.unsubscribe();
    await app?.close();
    await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
    await ns?.destroy();
  });

  it('scales a busy CPU app up, with its inputs in the message', async () => {
    const id = appId('cpu');
    const e = entry(id, 2, { resourceType: 'CPU', averageUsageTarget: 50 });
    await scaling.put(id, e);
    const decision = await waitFor(
      'a scale-up decision',
      () => {
        ns.bus.signal('node.usage.v1', {
          nodeId: 'node-1',
          at: new Date().toISOString(),
          intervalMs: 1000,
          replicas: e.ready.map((r) => ({ replicaId: r.replicaId, appId: id, cpu: 1.5, memory: 1 << 20 })),
        });
        autoscaler.tick(Date.now());
        return scalesOf(id)[0];
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(decision).toMatchObject({
      appId: id,
      desiredVersion: 1,
      replicas: 4, // ceil(2 × 150 / 50) = 6, within replicasMax 4
      message: 'cpu 150 % of target 50 % (2 ready, over 2 s): 2 → 4 replicas',
    });
    expect(decision.problem).toBeUndefined();
    // The same decision is not sent again while the entry catches up.
    for (let i = 0; i < 5; i++) autoscaler.tick(Date.now());
    await new Promise((r) => setTimeout(r, 300));
    expect(scalesOf(id)).toHaveLength(1);
  });

  it('wakes an app at 0 replicas on the traffic report itself, without a tick', async () => {
    const id = appId('zero');
    await scaling.put(id, entry(id, 0, { replicasMin: 0, resourceType: 'CPU', cooldownPeriodSeconds: 30 }));
    // Once the autoscaler has the entry, an idle report changes nothing.
    await waitFor('the entry to be followed', async () => {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      return /^gantry_autoscaler_apps [2-9]/m.test(metrics);
    });
    ns.bus.signal('ingress.traffic.v1', {
      ingressId: 'ing-1',
      at: new Date().toISOString(),
      intervalMs: 1000,
      apps: [{ appId: id, requests: 0, held: 0 }],
    });
    const sent = Date.now();
    ns.bus.signal('ingress.traffic.v1', {
      ingressId: 'ing-1',
      at: new Date().toISOString(),
      intervalMs: 0,
      apps: [{ appId: id, requests: 1, held: 1 }],
    });
    const decision = await waitFor('a wake decision', () => scalesOf(id)[0], {
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    expect(Date.now() - sent).toBeLessThan(2_000);
    expect(decision).toMatchObject({ replicas: 1, message: '1 request held at 0 replicas: 0 → 1 replica' });
    expect(scalesOf(id)).toHaveLength(1);
  });

  it('follows a custom metric in Prometheus text at a plain URL, and reports when it breaks', async () => {
    const id = appId('custom');
    metricsBody = '# TYPE queue_depth gauge\nqueue_depth{queue="other"} 900\nqueue_depth{queue="jobs"} 35\n';
    const apiUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const automatic: Partial<AutomaticScaling> = {
      replicasMax: 5,
      customMetrics: {
        apiUrl,
        format: 'PROMETHEUS',
        valueLocation: 'queue_depth{queue="jobs"}',
        targetValue: 10,
        aggregationType: 'AVERAGE',
      },
    };
    await scaling.put(id, entry(id, 1, automatic));
    const up = await waitFor(
      'a decision on the custom metric',
      () => {
        autoscaler.tick(Date.now());
        return scalesOf(id)[0];
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(up).toMatchObject({
      replicas: 4, // ceil(35 / 10)
      message: `custom metric queue_depth{queue="jobs"} 35 at ${apiUrl} for a target of 10 per replica: 1 → 4 replicas`,
    });

    // The scheduler applies it; then the endpoint answers garbage.
    await scaling.put(id, { ...entry(id, 4, automatic), version: 2 });
    metricsBody = 'queue_depth{queue="jobs"} lots\n';
    const broken = await waitFor(
      'a problem report',
      () => {
        autoscaler.tick(Date.now());
        return scalesOf(id)[1];
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(broken).toMatchObject({
      replicas: 4,
      problem: `custom metric ${apiUrl}: line 1: the value of queue_depth{queue="jobs"} is not a number: "lots"`,
    });

    // Fixed: one more publication, without the problem, holding the count the metric still asks for.
    metricsBody = 'queue_depth{queue="jobs"} 41\n';
    const fixed = await waitFor(
      'the problem to clear',
      () => {
        autoscaler.tick(Date.now());
        return scalesOf(id)[2];
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(fixed.problem).toBeUndefined();
    expect(fixed).toMatchObject({ replicas: 4, message: expect.stringMatching(/readable again$/) });

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^gantry_autoscaler_decisions_total\{direction="up"\} [1-9]/m);
    expect(metrics).toMatch(/^gantry_autoscaler_metric_errors_total\{source="custom"\} 1$/m);

    // Deleted: forgotten, and nothing more is decided.
    await scaling.delete(id);
    await waitFor('the app to be forgotten', async () =>
      /^gantry_autoscaler_apps 2$/m.test(await (await fetch(`${url}/metrics`)).text()),
    );
  });

  it('reads a <SELF> metric on each ready replica through its node, and names a failing replica', async () => {
    const id = appId('self');
    const e: ScalingEntry = {
      ...entry(id, 2, {
        customMetrics: {
          apiUrl: 'http://<SELF>:6000/stats?detail=1',
          format: 'JSON',
          valueLocation: 'queue.depth',
          targetValue: 5,
          aggregationType: 'MAX',
        },
      }),
      ready: [
        { replicaId: `${id}-a`, nodeId: `${id}-n1` },
        { replicaId: `${id}-b`, nodeId: `${id}-n2` },
      ],
    };
    // Two node agents' side of the query, on the real bus: each answers for its own replica.
    const asked: string[] = [];
    let depthOfB: number | string = 12;
    const stops = [
      ns.bus.serve('query.replica-scrape.v1', `${id}-n1`, async (q) => {
        asked.push(`n1:${q.replicaId}:${q.port}${q.path}`);
        return { status: 200, body: JSON.stringify({ queue: { depth: 3 } }) };
      }),
      ns.bus.serve('query.replica-scrape.v1', `${id}-n2`, async (q) => {
        asked.push(`n2:${q.replicaId}:${q.port}${q.path}`);
        return typeof depthOfB === 'number'
          ? { status: 200, body: JSON.stringify({ queue: { depth: depthOfB } }) }
          : { status: 503, body: depthOfB };
      }),
    ];
    try {
      await scaling.put(id, e);
      const up = await waitFor(
        'a decision on the replicas’ metric',
        () => {
          autoscaler.tick(Date.now());
          return scalesOf(id)[0];
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(up).toMatchObject({
        replicas: 4, // max(3, 12) = 12 per replica for a target of 5: ceil(2 × 2.4) = 5, within 4
        message:
          'custom metric queue.depth 12 (max of 2 replicas, http://<SELF>:6000/stats) of target 5: 2 → 4 replicas',
      });
      expect(asked).toEqual(
        expect.arrayContaining([`n1:${id}-a:6000/stats?detail=1`, `n2:${id}-b:6000/stats?detail=1`]),
      );

      await scaling.put(id, { ...e, version: 2, replicas: 4 });
      depthOfB = 'overloaded';
      const broken = await waitFor(
        'a problem naming the replica',
        () => {
          autoscaler.tick(Date.now());
          return scalesOf(id)[1];
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(broken).toMatchObject({
        replicas: 4,
        problem: `custom metric http://<SELF>:6000/stats on replica ${id}-b: HTTP 503`,
      });
    } finally {
      for (const stop of stops) stop();
    }
  });
});
