import { waitFor } from '@gantry/testing';
import { describe, expect, it } from '@jest/globals';

import { api, type AppObject, callApp, createApp, curlApp, E, getApp, waitForState } from './platform.js';

/**
 * The walking skeleton, driven over HTTP only: an image becomes an app, reachable through the
 * ingress, with logs and billed minutes; it stops, starts at the same URL, and is deleted.
 */
describe('deploy an image and reach it through the ingress', () => {
  let app: AppObject;
  const timings: Record<string, number> = {};

  it('creates the app: the App object, QUEUED, with its URL', async () => {
    const t0 = Date.now();
    app = await createApp({
      image: E.images.web,
      name: 'hello-e2e',
      resources: { cpu: 1 },
      unsecureHttp: true,
      envVars: [{ name: 'GREETING', value: 'bonjour' }],
      labels: { team: 'e2e' },
    });
    timings['created'] = t0;
    expect(app.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(app.status.state).toBe('QUEUED');
    expect(app.status.url).toBe(`http://${app.id}.app.localhost:${E.ingressPort}`);
    expect(app.spec).toMatchObject({
      name: 'hello-e2e',
      image: E.images.web,
      defaultHttpPort: 8080,
      unsecureHttp: true,
      labels: { team: 'e2e', 'gantry/id': app.id },
    });
    expect(app.status.history[0]?.state).toBe('QUEUED');
  });

  it('runs it: QUEUED → INITIALIZING → SCALING → RUNNING, each transition dated, one replica available', async () => {
    const running = await waitForState(app.id, 'RUNNING');
    timings['running'] = Date.now();
    expect(running.status.history.map((h) => h.state)).toEqual([
      'QUEUED',
      'INITIALIZING',
      'SCALING',
      'RUNNING',
    ]);
    const dates = running.status.history.map((h) => Date.parse(h.date));
    expect(dates.every((d, i) => i === 0 || d >= (dates[i - 1] ?? 0))).toBe(true);
    expect(running.status.availableReplicas).toBe(1);
    expect(running.status.lastTransitionDate).toBe(running.status.history.at(-1)?.date);
    process.stdout.write(`create → RUNNING: ${timings['running'] - (timings['created'] ?? 0)} ms\n`);
  });

  it('answers through the ingress, by Host header and by name', async () => {
    const byHost = await callApp(app.id);
    expect(byHost).toMatchObject({ status: 200, text: 'hello from gantry e2e\n' });
    expect(await curlApp(app.id)).toBe('hello from gantry e2e\n');
  });

  it('runs the container as 42420:42420 with the env vars it was given', async () => {
    expect((await callApp(app.id, '/cgi-bin/whoami')).text).toContain('uid=42420 gid=42420');
    const env = (await callApp(app.id, '/cgi-bin/env')).text;
    expect(env).toContain('GREETING=bonjour');
    expect(env).toContain(`GANTRY_APP_ID=${app.id}`);
  });

  it('lists and gets the app', async () => {
    const list = await api<unknown>('GET', '/v1/app');
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).toContain(app.id);
    const got = await getApp(app.id);
    expect(got.spec.name).toBe('hello-e2e');
  });

  it('serves what the container wrote, with timestamps and replica', async () => {
    await callApp(app.id, '/cgi-bin/status?200');
    const logs = await waitFor('the start line and a request line in the logs', async () => {
      const r = await api<{
        logs: Array<{ timestamp: string; content: string; replica: string; stream: string }>;
      }>('GET', `/v1/app/${app.id}/log?tail=50`);
      const lines = r.body.logs ?? [];
      return lines.some((l) => l.content.includes('listening on 8080')) &&
        lines.some((l) => l.content.includes('/cgi-bin/status'))
        ? lines
        : undefined;
    });
    const start = logs.find((l) => l.content.includes('listening on 8080'));
    expect(start?.stream).toBe('stdout');
    expect(start?.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z$/);
    expect(start?.replica).toBeTruthy();
    expect(logs.find((l) => l.content.includes('/cgi-bin/status'))?.stream).toBe('stderr');
    const tail = await api<{ logs: unknown[] }>('GET', `/v1/app/${app.id}/log?tail=1`);
    expect(tail.body.logs).toHaveLength(1);
  });

  it('stops: STOPPING → STOPPED, the container is gone, the ingress answers 503 naming the state', async () => {
    const stop = await api('PUT', `/v1/app/${app.id}/stop`);
    expect(stop.status).toBeGreaterThanOrEqual(200);
    expect(stop.status).toBeLessThan(300);
    const stopped = await waitForState(app.id, 'STOPPED');
    expect(stopped.status.history.map((h) => h.state).slice(-2)).toEqual(['STOPPING', 'STOPPED']);
    expect(stopped.status.availableReplicas).toBe(0);
    const reply = await waitFor('the ingress to refuse', async () => {
      const r = await callApp(app.id);
      return r.status === 503
        ? { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> }
        : undefined;
    });
    expect(JSON.stringify(reply.body)).toContain('STOPPED');
    const containers = await containersOf(app.id);
    expect(containers).toEqual([]);
  });

  it('starts again, back to RUNNING at the same URL', async () => {
    const start = await api('PUT', `/v1/app/${app.id}/start`);
    expect(start.status).toBeLessThan(300);
    const running = await waitForState(app.id, 'RUNNING');
    expect(running.status.url).toBe(app.status.url);
    expect(running.status.history.map((h) => h.state).slice(-5)).toEqual([
      'STOPPED',
      'QUEUED',
      'INITIALIZING',
      'SCALING',
      'RUNNING',
    ]);
    const reply = await waitFor('the app to answer again', async () => {
      const r = await callApp(app.id);
      return r.status === 200 ? r : undefined;
    });
    expect(reply.text).toBe('hello from gantry e2e\n');
  });

  it('refuses to delete a running app without force (409), then force-deletes it', async () => {
    const refused = await api('DELETE', `/v1/app/${app.id}`);
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toContain('RUNNING');
    const del = await api('DELETE', `/v1/app/${app.id}?force=true`);
    expect(del.status).toBeLessThan(300);
    await waitFor(
      'the app to be gone',
      async () => ((await api('GET', `/v1/app/${app.id}`)).status === 404 ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    );
    const list = await api('GET', '/v1/app');
    expect(JSON.stringify(list.body)).not.toContain(app.id);
    expect(await containersOf(app.id)).toEqual([]);
  });
});

/** Containers of an app, asked of the Docker Engine directly (the only non-HTTP check). */
async function containersOf(appId: string): Promise<string[]> {
  const Docker = (await import('dockerode')).default;
  const list = await new Docker().listContainers({ all: true, filters: { label: [`gantry.app=${appId}`] } });
  return list.map((c) => c.Id);
}
