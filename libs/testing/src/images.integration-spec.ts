import { afterAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';

import { buildTestImage, removeImage, webAppSpec } from './images.js';
import { uniqueName } from './names.js';
import { waitFor } from './wait.js';

describe('test images built FROM scratch with busybox', () => {
  const docker = new Docker();
  const tag = `gantry-test/${uniqueName('img').toLowerCase()}:1`;
  let container: Docker.Container | undefined;

  afterAll(async () => {
    await container?.remove({ force: true }).catch(() => undefined);
    await removeImage(docker, tag);
  });

  it('builds a web app that serves and runs CGI as 42420', async () => {
    await buildTestImage(docker, tag, webAppSpec('fixture'));
    container = await docker.createContainer({
      Image: tag,
      User: '42420:42420',
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    await container.start();
    const info = await container.inspect();
    const port = info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort;
    const base = `http://127.0.0.1:${port}`;
    const body = await waitFor('the app to answer', async () => (await fetch(base)).text());
    expect(body).toBe('hello from fixture\n');
    expect(await (await fetch(`${base}/cgi-bin/whoami`)).text()).toContain('uid=42420');
    const status = await fetch(`${base}/cgi-bin/status?503`);
    expect(status.status).toBe(503);
  });
});
