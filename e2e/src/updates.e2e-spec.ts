import { type IngressReply, sleep, waitFor } from '@gantry/testing';
import { afterAll, describe, expect, it } from '@jest/globals';

import { api, type AppObject, callApp, createApp, E, getApp } from './platform.js';

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

/** Waits until the app, RUNNING with `replicas` available, runs `image` and answers `path` with `text` in it. */
async function waitForServing(
  appId: string,
  check: { image: string; replicas: number; path?: string; text: string },
  timeoutMs = 90_000,
): Promise<AppObject> {
  return waitFor(
    `app ${appId} RUNNING ${check.image} × ${check.replicas}, answering ${check.path ?? '/'} with ${check.text}`,
    async () => {
      const app = await getApp(appId);
      if (app.status.state === 'FAILED') throw new Error(`app ${appId} FAILED: ${app.status.info.message}`);
      if (
        app.spec.image !== check.image ||
        app.status.state !== 'RUNNING' ||
        app.status.availableReplicas !== check.replicas
      )
        return undefined;
      const reply = await callApp(appId, check.path ?? '/').catch(() => undefined);
      return reply?.status === 200 && reply.text.includes(check.text) ? app : undefined;
    },
    { timeoutMs, intervalMs: 300 },
  );
}

/** The environment a replica of the app answers `/cgi-bin/env` with. */
async function envOf(appId: string): Promise<string> {
  const reply = await callApp(appId, '/cgi-bin/env');
  if (reply.status !== 200) throw new Error(`/cgi-bin/env of ${appId} → ${reply.status}`);
  return reply.text;
}

/** Calls the app until `stop()`, one request at a time, each every `everyMs`; records every answer. */
function steadyLoop(appId: string, everyMs = 50): { stop: () => Promise<IngressReply[]>; failed: string[] } {
  const replies: IngressReply[] = [];
  const failed: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const reply = await callApp(appId, '/').catch((error: unknown) => {
        failed.push(`no answer: ${(error as Error).message}`);
        return undefined;
      });
      if (reply) {
        replies.push(reply);
        if (reply.status !== 200) failed.push(`${reply.status} ${reply.text.slice(0, 200)}`);
      }
      await sleep(everyMs);
    }
  })();
  return {
    failed,
    stop: async () => {
      running = false;
      await loop;
      return replies;
    },
  };
}

const created: string[] = [];
async function webApp(over: Record<string, unknown>): Promise<AppObject> {
  const app = await createApp({ image: E.images.web, resources: { cpu: 1 }, unsecureHttp: true, ...over });
  created.push(app.id);
  return app;
}

/** Deletes an app this suite made, freeing its CPUs for the next test (the node is shared). */
async function remove(id: string): Promise<void> {
  await api('DELETE', `/v1/app/${id}?force=true`);
  created.splice(created.indexOf(id), 1);
}

afterAll(async () => {
  for (const id of [...created]) await remove(id);
});

/**
 * Issue 16 part 4, as a user would try it: updates beyond the image roll the replicas without a lost
 * request, a rollback returns to what ran before, and a broken new image rolls back by itself when
 * the app asks for it.
 */
describe('updates and rollback', () => {
  it('a broken new image with autoRollback comes back to serving the old one by itself', async () => {
    const app = await webApp({ deploymentStrategy: { autoRollback: true, progressDeadlineSeconds: 20 } });
    await waitForServing(app.id, { image: E.images.web, replicas: 1, text: 'hello from gantry e2e' });
    const set = await api('PUT', `/v1/app/${app.id}/image`, { body: { url: E.images.crash } });
    expect(set.status).toBe(200);
    // The new replica never gets ready: the scheduler says the rollout failed, the gateway rolls back.
    const rolledBack = await waitFor(
      'the automatic rollback event',
      async () => (await events(app.id)).find((e) => e.message.startsWith('automatic rollback:')),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(rolledBack).toMatchObject({ source: 'api-gateway', reason: 'APP_ROLLOUT_FAILED' });
    expect(rolledBack.message).toContain(`image ${E.images.crash} → ${E.images.web}`);
    const back = await waitForServing(app.id, {
      image: E.images.web,
      replicas: 1,
      text: 'hello from gantry e2e',
    });
    expect(back.spec['deploymentStrategy']).toMatchObject({ autoRollback: true });
    // The old replica served throughout: the app never failed, and it rolled back once.
    expect(back.status.history.map((h) => h.state)).not.toContain('FAILED');
    await sleep(2000);
    expect((await events(app.id)).filter((e) => e.message.startsWith('automatic rollback:'))).toHaveLength(1);
    expect((await getApp(app.id)).spec.image).toBe(E.images.web);
    await remove(app.id);
  }, 240_000);

  it('PUT /rollback after an env update returns the old environment', async () => {
    const app = await webApp({ envVars: [{ name: 'GREETING', value: 'one' }] });
    await waitForServing(app.id, {
      image: E.images.web,
      replicas: 1,
      path: '/cgi-bin/env',
      text: 'GREETING=one',
    });
    const none = await api('PUT', `/v1/app/${app.id}/rollback`);
    expect(none.status).toBe(409);
    const updated = await api<AppObject>('PUT', `/v1/app/${app.id}`, {
      body: { envVars: [{ name: 'GREETING', value: 'two' }] },
    });
    expect(updated.status).toBe(200);
    await waitForServing(app.id, {
      image: E.images.web,
      replicas: 1,
      path: '/cgi-bin/env',
      text: 'GREETING=two',
    });
    const rollback = await api('PUT', `/v1/app/${app.id}/rollback`);
    expect(rollback.status).toBe(204);
    await waitForServing(app.id, {
      image: E.images.web,
      replicas: 1,
      path: '/cgi-bin/env',
      text: 'GREETING=one',
    });
    expect((await getApp(app.id)).spec['envVars']).toEqual([{ name: 'GREETING', value: 'one' }]);
    const said = (await events(app.id)).map((e) => e.message);
    expect(said).toContainEqual(expect.stringMatching(/^envVars: GREETING changed \(by /));
    expect(said).toContainEqual(expect.stringMatching(/^rolled back: envVars: GREETING changed \(by /));
    expect(said.join('\n')).not.toMatch(/GREETING=|"one"|"two"/);
    await remove(app.id);
  }, 240_000);

  it('an update of a 3-replica app under a steady request loop loses no request', async () => {
    const app = await webApp({
      envVars: [{ name: 'RELEASE', value: 'a' }],
      scalingStrategy: { fixed: { replicas: 3 } },
    });
    await waitForServing(app.id, {
      image: E.images.web,
      replicas: 3,
      path: '/cgi-bin/env',
      text: 'RELEASE=a',
    });
    const before = (await getApp(app.id)).status.history.length;
    const loop = steadyLoop(app.id);
    await sleep(1000);
    const updated = await api('PUT', `/v1/app/${app.id}`, {
      body: { envVars: [{ name: 'RELEASE', value: 'b' }] },
    });
    expect(updated.status).toBe(200);
    // Done when the app went through SCALING and is RUNNING again with 3 replicas of the new spec.
    const done = await waitFor(
      'the rolling update to finish',
      async () => {
        const a = await getApp(app.id);
        const since = a.status.history.slice(before).map((h) => h.state);
        return since.includes('SCALING') && a.status.state === 'RUNNING' && a.status.availableReplicas === 3
          ? a
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 300 },
    );
    expect(done.status.availableReplicas).toBe(3);
    await sleep(1000);
    const replies = await loop.stop();
    expect(loop.failed).toEqual([]);
    expect(replies.length).toBeGreaterThan(20);
    // Every replica now runs the new environment.
    for (let i = 0; i < 6; i++) expect(await envOf(app.id)).toContain('RELEASE=b');
    process.stdout.write(
      `rolling update of 3 replicas: ${replies.length} requests, ${loop.failed.length} failed\n`,
    );
    await remove(app.id);
  }, 240_000);
});
