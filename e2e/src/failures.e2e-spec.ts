import { waitFor } from '@gantry/testing';
import { describe, expect, it } from '@jest/globals';

import { api, createApp, E, getApp, waitForState } from './platform.js';

describe('bad input gets a clear answer and loses nothing', () => {
  it.each<[string, string, number, string]>([
    ['malformed JSON', '{"image": ', 400, 'JSON'],
    [
      'an unknown field',
      JSON.stringify({ image: 'x:1', resources: { cpu: 1 }, colour: 'blue' }),
      400,
      'colour',
    ],
    [
      'a wrongly typed field',
      JSON.stringify({ image: 'x:1', resources: { cpu: 'one' } }),
      400,
      'resources.cpu',
    ],
    ['a missing image', JSON.stringify({ resources: { cpu: 1 } }), 400, 'image'],
  ])('%s → %i naming the problem', async (_what, body, status, named) => {
    const r = await api('POST', '/v1/app', { body });
    expect(r.status).toBe(status);
    expect(r.body).toMatchObject({ error: expect.any(String), message: expect.stringContaining(named) });
  });

  it('no token → 401, wrong token → 401, unknown app → 404, all JSON', async () => {
    const none = await api('GET', '/v1/app', { token: null });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: 'UNAUTHORIZED' });
    const wrong = await api('GET', '/v1/app', { token: 'not-a-token' });
    expect(wrong.status).toBe(401);
    const unknown = await api('GET', '/v1/app/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'NOT_FOUND' });
  });
});

describe('apps that cannot run say why', () => {
  it('an image that does not exist → FAILED, and info.message says so', async () => {
    const app = await createApp({
      image: 'gantry-e2e/no-such-image:404',
      resources: { cpu: 1 },
      unsecureHttp: true,
    });
    const failed = await waitForState(app.id, 'FAILED');
    expect(failed.status.info.message).toMatch(/no-such-image:404/);
    expect(failed.status.info.message.toLowerCase()).toMatch(/not (exist|found)|could not be pulled|pull/);
  });

  it('a container that exits before it is ever ready → restarted with backoff, then FAILED with its exit code and last lines', async () => {
    const app = await createApp({ image: E.images.crash, resources: { cpu: 1 }, unsecureHttp: true });
    const failed = await waitForState(app.id, 'FAILED', 90_000);
    expect(failed.status.info.message).toContain('3');
    expect(failed.status.info.message).toContain('fatal: cannot load model weights');
    const events = await api<{ events?: Array<{ type: string }> } | Array<{ type: string }>>(
      'GET',
      `/v1/app/${app.id}/event`,
    );
    expect(events.status).toBe(200);
  });

  it('an app whose readiness probe never passes says what the probe gets, then FAILED at its progress deadline, billed no further', async () => {
    // The image serves on 8080; the app says 9090.
    const app = await createApp({
      image: E.images.web,
      resources: { cpu: 1 },
      unsecureHttp: true,
      defaultHttpPort: 9090,
      deploymentStrategy: { progressDeadlineSeconds: 12 },
    });
    const waiting = await waitFor(
      'the probe in the status',
      async () => {
        const a = await getApp(app.id);
        return a.status.info.message.includes('readiness probe') ? a : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(waiting.status.state).toBe('SCALING');
    expect(waiting.status.info.message).toMatch(
      /replica \S+: readiness probe GET \/ on :9090: .+ \(\d+ tr(y|ies) over \d+ s\)/,
    );
    const failed = await waitForState(app.id, 'FAILED', 40_000);
    expect(failed.status.info.code).toBe('APP_PROGRESS_DEADLINE_EXCEEDED');
    expect(failed.status.info.message).toMatch(
      /^no replica became ready within 12 s of being placed \(progressDeadlineSeconds\): replica \S+: readiness probe GET \/ on :9090: /,
    );
    // Billed from SCALING to FAILED: a minute or two, not for as long as it would have waited.
    const scaling = failed.status.history.find((h) => h.state === 'SCALING');
    const end = failed.status.history.find((h) => h.state === 'FAILED');
    expect(Date.parse(end?.date ?? '') - Date.parse(scaling?.date ?? '')).toBeLessThan(30_000);
  });
});
