import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  type NodeAssignments,
  type RegistryAuthQuery,
  type ReplicaAssignment,
  type ReplicaReport,
  wireSubject,
} from '@gantry/contracts';
import { encodeJson, type TypedKv } from '@gantry/messaging';
import { runService } from '@gantry/runtime';
import {
  buildTestImage,
  createTestNamespace,
  removeImage,
  startTestRegistry,
  type TestRegistry,
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
 * "Push the same tag, then stop/start": replicas that start a run of their app (`refreshImage`) ask
 * the registry whether their tag moved and pull it when it did; the others run the node's copy. The
 * registry is the CNCF distribution registry (Debian's docker-registry) on 127.0.0.1 with htpasswd
 * authentication; the node's copy of the image was built and pushed there by hand (the agent never
 * pulled it), with the real Docker Engine and NATS. The test plays the scheduler and the api-gateway.
 */
describe('node-agent refreshing a tag at the start of a run', () => {
  const docker = new Docker();
  const run = uniqueName('nri').toLowerCase();
  const NODE = `node-${run}`;
  const builtHere = `gantry-test/${run}-local:1`;
  let registry: TestRegistry;
  let image: string;
  let repository: string;
  const images: string[] = [];
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let kv: TypedKv<'assignments'>;
  let stateDir: string;
  let app: INestApplication | undefined;
  let generation = 0;
  const on: ReplicaAssignment[] = [];
  const reports: ReplicaReport[] = [];
  const queries: RegistryAuthQuery[] = [];
  let password = '';

  const replica = (replicaId: string, refreshImage: boolean, ref = image): ReplicaAssignment => ({
    replicaId,
    appId: 'app-refresh',
    projectId: 'proj-1',
    image: ref,
    envVars: [],
    ports: [8080],
    probe: { path: '/', port: 8080 },
    resources: { cpu: 0.5, memory: 64 * MiB, pids: 64 },
    gpus: [],
    ...(refreshImage ? { refreshImage } : {}),
  });
  /** Adds a replica to the node's list and waits until it serves; returns its phases and its answer. */
  const runAdded = async (a: ReplicaAssignment): Promise<{ phases: string[]; says: string }> => {
    on.push(a);
    const value: NodeAssignments = {
      nodeId: NODE,
      generation: ++generation,
      updatedAt: new Date().toISOString(),
      replicas: [...on],
    };
    await kv.put(NODE, value);
    const ready = await waitFor(
      `${a.replicaId} READY`,
      () => {
        const mine = reports.filter((r) => r.replicaId === a.replicaId);
        const failed = mine.find((r) => r.phase === 'FAILED');
        if (failed) throw new Error(`${a.replicaId} FAILED: ${failed.message}`);
        return mine.find((r) => r.phase === 'READY');
      },
      { timeoutMs: 20_000 },
    );
    const says = await (await fetch(`http://127.0.0.1:${ready.endpoint?.ports['8080']}/`)).text();
    return { phases: reports.filter((r) => r.replicaId === a.replicaId).map((r) => r.phase), says };
  };
  const localDigests = async (): Promise<string[]> => (await docker.getImage(image).inspect()).RepoDigests;

  beforeAll(async () => {
    ns = await createTestNamespace('nri');
    stateDir = await mkdtemp(join(tmpdir(), 'gantry-node-agent-refresh-'));
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'node.report.v1'), {
      callback: (error, m) => {
        if (!error) reports.push(m.json<ReplicaReport>());
      },
    });
    // The api-gateway's part: the registry's credentials, with whatever password the case needs.
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'query.registry-auth.v1'), {
      callback: (error, m) => {
        if (error) return;
        queries.push(m.json<RegistryAuthQuery>());
        const auth = {
          url: registry.host,
          serverAddress: registry.host,
          username: registry.username,
          password,
        };
        m.respond(encodeJson({ ok: true, data: { auth } }));
      },
    });
    await ns.bus.nc.flush();
    kv = await ns.bus.kv('assignments');

    registry = await startTestRegistry({ username: 'ci', password: `pw-${run}` });
    password = registry.password;
    repository = `${registry.host}/refresh/web`;
    image = `${repository}:1`;
    // v1 built here and pushed: the node holds it with its registry digest, and never pulled it.
    await buildTestImage(docker, image, webAppSpec('v1'));
    await registry.push(docker, image);
    images.push((await docker.getImage(image).inspect()).Id);
    await buildTestImage(docker, builtHere, webAppSpec('here'));

    const config = NodeAgentConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      NODE_ID: NODE,
      NODE_ADDRESS: '127.0.0.1',
      HEARTBEAT_INTERVAL_MS: '500',
      ORPHAN_GRACE_MS: '1000',
      RESYNC_INTERVAL_MS: '1000',
      IMAGE_PULL_TIMEOUT_MS: '15000',
      REGISTRY_AUTH_TIMEOUT_MS: '2000',
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
    await Promise.all([image, builtHere, ...images].filter(Boolean).map((ref) => removeImage(docker, ref)));
    await registry?.stop();
    await ns?.destroy();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('asks the registry and runs the node’s copy when the tag has not moved', async () => {
    const before = await localDigests();
    const r = await runAdded(replica('r-same', true));
    expect(r).toEqual({ phases: ['STARTING', 'READY'], says: 'hello from v1\n' });
    expect(queries.at(-1)).toEqual({ projectId: 'proj-1', image });
    expect(await localDigests()).toEqual(before);
  });

  it('pulls the tag again once another image was pushed under it, for a replica that starts a run only', async () => {
    // v2 pushed under the same tag; the node's tag goes back to v1 (its copy, with v1's digest).
    const v1 = (await docker.getImage(image).inspect()).Id;
    await buildTestImage(docker, image, webAppSpec('v2'));
    await registry.push(docker, image);
    const v2 = (await docker.getImage(image).inspect()).Id;
    images.push(v2);
    await docker.getImage(v1).tag({ repo: repository, tag: '1' });
    await docker.getImage(v2).remove({ force: true });
    const pushed = (await docker.getImage(v1).inspect()).RepoDigests;
    expect(pushed).toHaveLength(1);

    // Added to a running app (scaling up): the node's copy, nothing asked.
    const asked = queries.length;
    expect(await runAdded(replica('r-added', false))).toEqual({
      phases: ['STARTING', 'READY'],
      says: 'hello from v1\n',
    });
    expect(queries).toHaveLength(asked);
    // A registry that refuses the question: never a failure, the node's copy runs.
    password = 'not-the-password';
    expect(await runAdded(replica('r-refused', true))).toEqual({
      phases: ['STARTING', 'READY'],
      says: 'hello from v1\n',
    });
    expect(queries).toHaveLength(asked + 1);
    // Starting a run: the tag moved, so it is pulled; the new image runs.
    password = registry.password;
    expect(await runAdded(replica('r-fresh', true))).toEqual({
      phases: ['PULLING', 'STARTING', 'READY'],
      says: 'hello from v2\n',
    });
    const now = await localDigests();
    expect(now.some((d) => d.startsWith(`${repository}@`))).toBe(true);
    expect(now).not.toEqual(pushed);
    images.push((await docker.getImage(image).inspect()).Id);
  });

  it('runs an image built on the node as it is, without asking any registry', async () => {
    const asked = queries.length;
    expect(await runAdded(replica('r-here', true, builtHere))).toEqual({
      phases: ['STARTING', 'READY'],
      says: 'hello from here\n',
    });
    expect(queries).toHaveLength(asked);
  });
});
