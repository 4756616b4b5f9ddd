import { randomBytes } from 'node:crypto';

import { buildTestImage, removeImage, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';

import { api, type AppObject, callApp, createApp, getApp, waitForState } from './platform.js';

interface AppEventView {
  type: string;
  source: string;
  reason: string;
  message: string;
}

async function events(appId: string): Promise<AppEventView[]> {
  const r = await api<{ events: AppEventView[] }>('GET', `/v1/app/${appId}/event`);
  if (r.status !== 200) throw new Error(`events of ${appId} → ${r.status}`);
  return r.body.events;
}

const docker = new Docker();
/** A web app whose /cgi-bin/healthz answers 200 for SICK_AFTER seconds after each start, then 500. */
const image = `gantry-e2e/healthz-${randomBytes(4).toString('hex')}:1`;
const created: string[] = [];

beforeAll(async () => {
  // CGI headers end in CRLF (see webAppSpec); busybox httpd hands its environment to CGIs.
  const healthz = [
    '#!/bin/sh',
    'up=$(( $(date +%s) - $(cat /tmp/started) ))',
    `if [ "$up" -ge "\${SICK_AFTER:-1000000}" ]; then printf 'Status: 500 Sick\\r\\n\\r\\nsick after %s s\\n' "$up"`,
    `else printf 'Status: 200 OK\\r\\n\\r\\nok\\n'; fi`,
    '',
  ].join('\n');
  await buildTestImage(docker, image, {
    files: { '/www/index.html': 'hello from healthz\n', '/www/cgi-bin/healthz': healthz },
    cmd: ['/bin/sh', '-c', 'date +%s > /tmp/started; echo listening; exec httpd -f -p 8080 -h /www'],
    expose: [8080],
  });
});

afterAll(async () => {
  for (const id of created) await api('DELETE', `/v1/app/${id}?force=true`);
  await removeImage(docker, image);
});

/** Issue 16 part 4, as a user would try it: a replica that stops being alive is restarted, and says why. */
describe('liveness probes', () => {
  it('restarts a replica whose liveness path begins to fail, with an event naming the probe', async () => {
    const app: AppObject = await createApp({
      image,
      resources: { cpu: 1 },
      unsecureHttp: true,
      envVars: [{ name: 'SICK_AFTER', value: '6' }],
      probe: {
        startupGraceSeconds: 2,
        liveness: { path: '/cgi-bin/healthz', periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 1 },
      },
    });
    created.push(app.id);
    expect(app.spec['probe']).toEqual({
      path: '/',
      port: 8080,
      startupGraceSeconds: 2,
      liveness: {
        path: '/cgi-bin/healthz',
        port: 8080,
        periodSeconds: 1,
        failureThreshold: 2,
        timeoutSeconds: 1,
      },
    });
    await waitForState(app.id, 'RUNNING');
    expect((await callApp(app.id, '/cgi-bin/healthz')).status).toBe(200);

    const restarted = await waitFor(
      'an event naming the liveness probe',
      async () =>
        (await events(app.id)).find(
          (e) => e.type === 'REPLICA_EXITED' && e.message.includes('liveness probe'),
        ),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(restarted).toMatchObject({ source: 'node-agent' });
    expect(restarted.message).toMatch(
      /^replica \S+: liveness probe GET \/cgi-bin\/healthz on :8080 failed 2 times in a row \(last: answered 500\); restarting \(restart 1 in \d+(\.\d+)? s\)$/,
    );

    // Restarted in place, it serves again (healthy for another SICK_AFTER seconds).
    await waitFor(
      'the app serving again',
      async () => {
        const a = await getApp(app.id);
        const reply = await callApp(app.id, '/').catch(() => undefined);
        return a.status.availableReplicas === 1 && reply?.status === 200 ? a : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );

    // Without its liveness probe (an update that rolls the replica), nothing restarts it any more.
    const before = (await getApp(app.id)).status.history.length;
    const updated = await api<AppObject>('PUT', `/v1/app/${app.id}`, { body: { probe: { liveness: null } } });
    expect(updated.status).toBe(200);
    expect(updated.body.spec['probe']).toEqual({ path: '/', port: 8080, startupGraceSeconds: 2 });
    const said = await waitFor(
      'the update event',
      async () =>
        (await events(app.id)).find((e) => e.message.startsWith('liveness probe GET /cgi-bin/healthz')),
      { timeoutMs: 10_000, intervalMs: 300 },
    );
    expect(said.message).toMatch(/^liveness probe GET \/cgi-bin\/healthz on 8080 every 1 s .* → none \(by /);
    const rolled = await waitFor(
      'the rolled replica serving',
      async () => {
        const a = await getApp(app.id);
        const since = a.status.history.slice(before).map((h) => h.state);
        return a.status.state === 'RUNNING' && a.status.availableReplicas === 1 && since.includes('SCALING')
          ? a
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    expect(rolled.status.availableReplicas).toBe(1);
    const restartsBefore = (await events(app.id)).filter((e) => e.type === 'REPLICA_EXITED').length;
    await new Promise((r) => setTimeout(r, 10_000)); // past SICK_AFTER + what the probe would have taken
    expect((await events(app.id)).filter((e) => e.type === 'REPLICA_EXITED')).toHaveLength(restartsBefore);
    expect((await callApp(app.id, '/cgi-bin/healthz')).status).toBe(500);
  }, 180_000);
});
