import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { viaIngress, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';

import { json, type Result, runCli } from './cli.js';
import { api, type AppObject, callApp, E } from './platform.js';

interface TokenObject {
  id: string;
  status: { value?: string };
}

/**
 * A new user with the CLI alone: an app with two replicas behind a restricted endpoint, called with
 * and without tokens through the real ingress, scaled, labelled, its events and logs read; tokens
 * scoped by label and by project; a deleted token refused at the ingress within two seconds.
 */
describe('a restricted app, driven with the CLI', () => {
  let dir: string;
  let app: AppObject;
  const docker = new Docker();
  const gantry = (args: string[], env: Record<string, string> = {}): Promise<Result> =>
    runCli(join(dir, 'config.json'), args, env);
  const appNow = async () => json<AppObject>(await gantry(['app', 'get', app.id, '-o', 'json']));
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-restricted-e2e-'));
    expect((await gantry(['login', '--url', E.api, '--token', E.adminToken])).code).toBe(0);
  });
  afterAll(async () => {
    if (app) await gantry(['app', 'delete', app.id, '--force']);
    await docker
      .getImage(`${E.images.web.split(':')[0] ?? ''}:rollout`)
      .remove({ force: true })
      .catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs an image with two replicas behind a restricted endpoint', async () => {
    const flavors = await gantry(['capabilities', 'flavor', 'list']);
    expect(flavors.stdout).toContain('ai1-1-cpu');
    app = json<AppObject>(
      await gantry([
        'app',
        'run',
        E.images.web,
        '--replicas',
        '2',
        '-p',
        '8080',
        '-l',
        'team=vision',
        '-n',
        'restricted-e2e',
        '--cpu',
        '1',
        '-o',
        'json',
      ]),
    );
    expect(app.spec).toMatchObject({ unsecureHttp: false, scalingStrategy: { fixed: { replicas: 2 } } });
    await waitFor(
      'two replicas serving',
      async () => {
        const now = await appNow();
        return now.status.state === 'RUNNING' && now.status.availableReplicas === 2;
      },
      { timeoutMs: 60_000 },
    );
  });

  it('answers 401 without a token (a login page for browsers), and serves with one, from both replicas', async () => {
    const anonymous = await callApp(app.id);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text)).toMatchObject({ error: 'UNAUTHORIZED' });
    const browser = await callApp(app.id, '/', { headers: { accept: 'text/html' } });
    expect(browser.text).toMatch(/<form[^>]*method="post"/i);
    expect((await callApp(app.id, '/', { headers: bearer('not-a-token') })).status).toBe(401);

    const replicas = new Set<string>();
    await waitFor('both replicas to answer', async () => {
      const r = await callApp(app.id, '/', { headers: bearer(E.adminToken) });
      expect(r).toMatchObject({ status: 200, text: 'hello from gantry e2e\n' });
      replicas.add(String(r.headers['x-gantry-replica']));
      return replicas.size === 2;
    });
  });

  it('routes <appId>-<port> to an open port, and says which ports are open otherwise', async () => {
    const open = await viaIngress(E.ingress, `${app.id}-8080.app.localhost`, '/', {
      headers: bearer(E.adminToken),
    });
    expect(open.status).toBe(200);
    const closed = await viaIngress(E.ingress, `${app.id}-9999.app.localhost`, '/', {
      headers: bearer(E.adminToken),
    });
    expect(closed.status).toBe(404);
    expect(closed.text).toContain('8080');
  });

  it('scales to one replica, labels the app, and tells what happened in its events and logs', async () => {
    const scaled = await gantry(['app', 'scale', app.id, '--replicas', '1']);
    expect(scaled.code).toBe(0);
    await waitFor(
      'one replica',
      async () => {
        const now = await appNow();
        return now.status.state === 'RUNNING' && now.status.availableReplicas === 1;
      },
      { timeoutMs: 30_000 },
    );
    expect((await appNow()).status.history.map((h) => h.state)).toContain('SCALING');

    expect((await gantry(['app', 'label', app.id, 'tier=gold'])).code).toBe(0);
    expect((await appNow()).spec['labels']).toMatchObject({ team: 'vision', tier: 'gold' });

    const events = await gantry(['app', 'events', app.id]);
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/SCALING/);
    expect(events.stdout).toMatch(/tier/);
    const logs = await waitFor('log lines', async () => {
      const r = await gantry(['app', 'logs', app.id, '--tail', '5']);
      return r.code === 0 && r.stdout.includes('url:/') ? r.stdout : undefined;
    });
    expect(logs.trimEnd().split('\n').length).toBeLessThanOrEqual(5);
  });

  it('rolls a new image out with set-image while the app keeps answering', async () => {
    const [repo = ''] = E.images.web.split(':');
    const next = `${repo}:rollout`;
    await docker.getImage(E.images.web).tag({ repo, tag: 'rollout' });
    const failures: string[] = [];
    let on = true;
    const traffic = (async () => {
      while (on) {
        const r = await callApp(app.id, '/', { headers: bearer(E.adminToken) }).catch((e: unknown) => ({
          status: 0,
          text: String(e),
        }));
        if (r.status !== 200) failures.push(`${r.status} ${r.text.slice(0, 120)}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    try {
      expect((await gantry(['app', 'set-image', app.id, next])).code).toBe(0);
      await waitFor(
        'the replica to run the new image',
        async () => {
          const cs = await docker.listContainers({ filters: { label: [`gantry.app=${app.id}`] } });
          const now = await appNow();
          return cs.length === 1 && cs[0]?.Image === next && now.status.state === 'RUNNING'
            ? true
            : undefined;
        },
        { timeoutMs: 60_000 },
      );
    } finally {
      on = false;
      await traffic;
    }
    expect(failures).toEqual([]);
    expect((await appNow()).spec.image).toBe(next);
    const events = await gantry(['app', 'events', app.id]);
    expect(events.stdout).toContain(`image changed to ${next}`);
  });

  it('lets a read token scoped by label call the app but not change it; other selectors and projects get 403', async () => {
    const reader = json<TokenObject>(
      await gantry([
        'token',
        'create',
        'vision-reader',
        '--role',
        'read',
        '--label-selector',
        'team=vision',
        '-o',
        'json',
      ]),
    );
    const secret = reader.status.value ?? '';
    expect((await callApp(app.id, '/', { headers: bearer(secret) })).status).toBe(200);
    const asReader = { GANTRY_URL: E.api, GANTRY_TOKEN: secret };
    expect(
      json<AppObject[]>(await gantry(['app', 'list', '-o', 'json'], asReader)).map((a) => a.id),
    ).toContain(app.id);
    const scale = await gantry(['app', 'scale', app.id, '--replicas', '2'], asReader);
    expect(scale.code).toBe(1);
    expect(scale.stderr).toMatch(/^error: /);

    const elsewhere = json<TokenObject>(
      await gantry([
        'token',
        'create',
        'other-reader',
        '--role',
        'read',
        '--label-selector',
        'team=other',
        '-o',
        'json',
      ]),
    );
    const denied = await callApp(app.id, '/', { headers: bearer(elsewhere.status.value ?? '') });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text)).toMatchObject({ error: 'FORBIDDEN' });

    const project = await api<{ id: string }>('POST', '/v1/project', {
      body: { name: `restricted e2e ${Date.now()}` },
    });
    expect(project.status).toBeLessThan(300);
    const outsider = json<TokenObject>(
      await gantry([
        'token',
        'create',
        'outsider',
        '--role',
        'operator',
        '--project',
        project.body.id,
        '-o',
        'json',
      ]),
    );
    expect((await callApp(app.id, '/', { headers: bearer(outsider.status.value ?? '') })).status).toBe(403);
    const hidden = await gantry(['app', 'get', app.id], {
      GANTRY_URL: E.api,
      GANTRY_TOKEN: outsider.status.value ?? '',
    });
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toMatch(/does not exist/);

    // Deleted: refused at the ingress within two seconds.
    expect((await gantry(['token', 'delete', reader.id])).code).toBe(0);
    const t0 = Date.now();
    await waitFor(
      'the ingress to refuse the deleted token',
      async () =>
        (await callApp(app.id, '/', { headers: bearer(secret) })).status === 401 ? true : undefined,
      { timeoutMs: 2000, intervalMs: 50 },
    );
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('stops and deletes the app', async () => {
    expect((await gantry(['app', 'stop', app.id])).code).toBe(0);
    await waitFor('STOPPED', async () => (await appNow()).status.state === 'STOPPED', { timeoutMs: 30_000 });
    expect((await gantry(['app', 'delete', app.id])).code).toBe(0);
    await waitFor('gone', async () => (await gantry(['app', 'get', app.id])).code === 1, {
      timeoutMs: 30_000,
    });
  });
});
