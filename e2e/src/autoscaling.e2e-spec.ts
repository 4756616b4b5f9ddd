import { sleep, waitFor } from '@gantry/testing';
import { afterAll, describe, expect, it } from '@jest/globals';

import { api, type AppObject, callApp, createApp, E, getApp, waitForState } from './platform.js';

interface AppEventView {
  type: string;
  source: string;
  reason: string;
  message: string;
  at: string;
}

async function events(appId: string): Promise<AppEventView[]> {
  const r = await api<{ events: AppEventView[] }>('GET', `/v1/app/${appId}/event`);
  if (r.status !== 200) throw new Error(`events of ${appId} → ${r.status}`);
  return r.body.events;
}

/** Waits for an app event of `type` whose message matches, and returns it. */
const waitForEvent = (appId: string, type: string, message: RegExp, timeoutMs = 60_000) =>
  waitFor(
    `app ${appId}: ${type} event matching ${message}`,
    async () => (await events(appId)).find((e) => e.type === type && message.test(e.message)),
    { timeoutMs, intervalMs: 250 },
  );

const waitForReplicas = (appId: string, n: number, timeoutMs = 60_000) =>
  waitFor(
    `app ${appId} RUNNING with ${n} available replicas`,
    async () => {
      const app = await getApp(appId);
      return app.status.state === 'RUNNING' && app.status.availableReplicas === n ? app : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );

const created: string[] = [];
async function autoApp(
  automatic: Record<string, unknown>,
  over: Record<string, unknown> = {},
): Promise<AppObject> {
  const app = await createApp({
    image: E.images.web,
    resources: { cpu: 1 },
    unsecureHttp: true,
    scalingStrategy: { automatic },
    ...over,
  });
  created.push(app.id);
  return app;
}

afterAll(async () => {
  for (const id of created) await api('DELETE', `/v1/app/${id}?force=true`);
});

/**
 * Issue 16, as a user would try it: an automatic app climbs under CPU load and comes back down, each
 * step an event with its reason; an app with replicasMin 0 sits at zero and the next request is
 * answered after the cold start; a custom metric in Prometheus text drives the count.
 */
describe('automatic scaling', () => {
  it('climbs under CPU load and comes back down, each step an event with its reason', async () => {
    const app = await autoApp({
      replicasMin: 1,
      replicasMax: 3,
      resourceType: 'CPU',
      averageUsageTarget: 50,
      scaleDownStabilizationWindowSeconds: 6,
    });
    expect(app.spec['scalingStrategy']).toEqual({
      automatic: {
        replicasMin: 1,
        replicasMax: 3,
        resourceType: 'CPU',
        averageUsageTarget: 50,
        scaleUpStabilizationWindowSeconds: 0,
        scaleDownStabilizationWindowSeconds: 6,
      },
    });
    await waitForState(app.id, 'RUNNING');
    // Load: two callers keep one CPU of the replica busy until the autoscaler adds a replica.
    let loading = true;
    const loaders = [0, 1].map(async () => {
      const until = Date.now() + 60_000;
      while (loading && Date.now() < until)
        await callApp(app.id, '/cgi-bin/burn?400000').catch(() => undefined);
    });
    try {
      const up = await waitForEvent(app.id, 'AUTOSCALED', /cpu .*: 1 → [23] replicas/);
      expect(up).toMatchObject({ source: 'autoscaler', reason: 'APP_SCALING' });
      expect(up.message).toMatch(/of target 50 %/);
      await waitFor(
        'a second replica serving',
        async () => ((await getApp(app.id)).status.availableReplicas >= 2 ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    } finally {
      loading = false;
      await Promise.all(loaders);
    }
    // Idle: back to one replica after the scale-down window.
    const down = await waitForEvent(app.id, 'AUTOSCALED', /→ 1 replicas?/);
    expect(down.message).toMatch(/cpu/);
    await waitForReplicas(app.id, 1);
  }, 180_000);

  it('sits at zero replicas, unbilled, and answers the next request after the cold start', async () => {
    const app = await autoApp({
      replicasMin: 0,
      replicasMax: 2,
      scaleDownStabilizationWindowSeconds: 0,
      cooldownPeriodSeconds: 3,
    });
    await waitForState(app.id, 'RUNNING');
    const idle = await waitForEvent(app.id, 'AUTOSCALED', /idle .*1 → 0/);
    expect(idle.source).toBe('autoscaler');
    const zero = await waitForReplicas(app.id, 0);
    expect(zero.status.info.message).toContain('scaled to zero');
    expect(zero.status).toMatchObject({ state: 'RUNNING', availableReplicas: 0, desiredReplicas: 0 });
    // The next request is held while a replica starts, then answered — no error.
    const t0 = Date.now();
    const reply = await callApp(app.id);
    expect(reply).toMatchObject({ status: 200, text: 'hello from gantry e2e\n' });
    process.stdout.write(`wake from zero: first answer after ${Date.now() - t0} ms\n`);
    await waitForEvent(app.id, 'AUTOSCALED', /held .*0 → 1/);
    expect((await getApp(app.id)).status).toMatchObject({ state: 'RUNNING', availableReplicas: 1 });
  }, 120_000);

  it('follows a custom metric in Prometheus text, and switches back to a fixed count keeping its replicas', async () => {
    const app = await autoApp(
      {
        replicasMin: 1,
        replicasMax: 3,
        customMetrics: {
          apiUrl: 'http://<SELF>:8080/cgi-bin/metrics',
          format: 'PROMETHEUS',
          valueLocation: 'queue_depth{queue="jobs"}',
          targetValue: 5,
        },
      },
      { envVars: [{ name: 'QUEUE_DEPTH', value: '12' }] },
    );
    await waitForState(app.id, 'RUNNING');
    // 12 jobs per replica against a target of 5: ceil(1 × 12 / 5) = 3 replicas.
    const up = await waitForEvent(app.id, 'AUTOSCALED', /queue_depth.*1 → 3/);
    expect(up.source).toBe('autoscaler');
    expect((await waitForReplicas(app.id, 3)).status.desiredReplicas).toBe(3);
    const r = await api('PUT', `/v1/app/${app.id}/scalingstrategy`, { body: { fixed: { replicas: 3 } } });
    expect(r.status).toBe(200);
    const before = (await events(app.id)).length;
    await sleep(3000);
    // Fixed at the count it had: nothing replaced, nothing scaled.
    const after = (await events(app.id)).slice(before);
    expect(after.filter((e) => e.type === 'REPLICA_REMOVED' || e.type === 'AUTOSCALED')).toEqual([]);
    expect((await getApp(app.id)).status).toMatchObject({ state: 'RUNNING', availableReplicas: 3 });
  }, 120_000);

  it('says so in the status when the metric cannot be read, and holds the count', async () => {
    const app = await autoApp({
      replicasMin: 1,
      replicasMax: 3,
      customMetrics: {
        apiUrl: 'http://<SELF>:8080/cgi-bin/metrics',
        format: 'PROMETHEUS',
        valueLocation: 'no_such_metric',
        targetValue: 5,
      },
    });
    await waitForState(app.id, 'RUNNING');
    const bad = await waitFor(
      'the status to name the metric trouble',
      async () => {
        const a = await getApp(app.id);
        return a.status.info.code === 'APP_METRICS_UNAVAILABLE' ? a : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(bad.status.info.message).toContain('no_such_metric');
    expect(bad.status.availableReplicas).toBe(1);
    await waitForEvent(app.id, 'METRICS_UNAVAILABLE', /no_such_metric/);
  }, 120_000);
});
