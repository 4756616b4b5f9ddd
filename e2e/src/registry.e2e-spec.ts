import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  buildTestImage,
  removeImage,
  startTestRegistry,
  type TestRegistry,
  webAppSpec,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';

import { json, type Result, runCli } from './cli.js';
import { api, callApp, createApp, E, waitForState } from './platform.js';

/**
 * A private registry, as a user meets it: an image only a registry with htpasswd authentication has
 * (Debian's docker-registry on loopback, never pulled by the engine before), deployed through the
 * whole platform — FAILED without the project's credentials, with a message saying what to do;
 * RUNNING and answering once `gantry registry add` stored them.
 */
const docker = new Docker();
let registry: TestRegistry;
let image: string;
let dir: string;
const gantry = (args: string[], input = ''): Promise<Result> =>
  runCli(join(dir, 'config.json'), args, {}, input);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-registry-e2e-'));
  registry = await startTestRegistry({ username: 'e2e-bot' });
  image = `${registry.host}/e2e/private-web:1`;
  const local = `gantry-e2e/private-web-${registry.host.split(':')[1]}:1`;
  await buildTestImage(docker, local, webAppSpec('private e2e'));
  await docker.getImage(local).tag({ repo: `${registry.host}/e2e/private-web`, tag: '1' });
  await registry.push(docker, image);
  // Only the registry has it now: the node agent must pull it.
  await removeImage(docker, image);
  await removeImage(docker, local);
  expect(
    await docker
      .getImage(image)
      .inspect()
      .catch(() => undefined),
  ).toBeUndefined();
  expect((await gantry(['login', '--url', E.api, '--token', E.adminToken])).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (image) await removeImage(docker, image);
  await rm(dir, { recursive: true, force: true });
});

describe('private registries', () => {
  it('an image of a private registry without its credentials → FAILED, saying how to add them', async () => {
    const app = await createApp({ image, resources: { cpu: 1 }, unsecureHttp: true });
    const failed = await waitForState(app.id, 'FAILED');
    expect(failed.status.info.message).toContain(
      `registry ${registry.host} needs credentials: add them with gantry registry add ${registry.host}`,
    );
    expect((await api('DELETE', `/v1/app/${app.id}?force=true`)).status).toBe(204);
  });

  it('gantry registry add (password on stdin), then the app pulls from it and answers', async () => {
    const added = await gantry(
      ['registry', 'add', registry.host, '-u', registry.username, '--password-stdin', '-o', 'json'],
      `${registry.password}\n`,
    );
    const reg = json<{ id: string; url: string; username: string }>(added);
    expect(reg).toMatchObject({ url: registry.host, username: 'e2e-bot' });
    expect(added.stdout).not.toContain(registry.password);
    const listed = json<Array<{ id: string }> | { items: Array<{ id: string }> }>(
      await gantry(['registry', 'list', '-o', 'json']),
    );
    const items = Array.isArray(listed) ? listed : listed.items;
    expect(items.map((r) => r.id)).toContain(reg.id);

    const app = await createApp({ image, resources: { cpu: 1 }, unsecureHttp: true });
    await waitForState(app.id, 'RUNNING', 90_000);
    expect((await callApp(app.id, '/')).text).toContain('private e2e');
    expect((await api('DELETE', `/v1/app/${app.id}?force=true`)).status).toBe(204);

    expect((await gantry(['registry', 'delete', reg.id])).code).toBe(0);
    expect((await api('GET', `/v1/registry/${reg.id}`)).status).toBe(404);
  });
});
