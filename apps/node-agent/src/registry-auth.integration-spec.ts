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
 * The node agent pulling from a private registry: the CNCF distribution registry (Debian's
 * docker-registry) with htpasswd authentication on 127.0.0.1, the real Docker Engine and NATS. The
 * test plays the scheduler (KV `assignments`) and the api-gateway (it answers
 * `query.registry-auth.v1` with whatever credentials each case needs).
 */
describe('node-agent pulling from a private registry', () => {
  const docker = new Docker();
  const run = uniqueName('nar').toLowerCase();
  const NODE = `node-${run}`;
  const PROJECT = 'proj-private';
  let registry: TestRegistry;
  let image: string;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let kv: TypedKv<'assignments'>;
  let stateDir: string;
  let app: INestApplication | undefined;
  let generation = 0;
  const reports: ReplicaReport[] = [];
  const queries: RegistryAuthQuery[] = [];
  /** What the stand-in gateway answers: a reply envelope, or undefined to stay silent. */
  let answer: (q: RegistryAuthQuery) => unknown = () => ({ ok: true, data: {} });

  const credentials = (password: string) => ({
    ok: true,
    data: {
      auth: { url: registry.host, serverAddress: registry.host, username: registry.username, password },
    },
  });
  const replica = (replicaId: string, projectId = PROJECT, ref = image): ReplicaAssignment => ({
    replicaId,
    appId: `app-${replicaId}`,
    projectId,
    image: ref,
    envVars: [],
    ports: [8080],
    probe: { path: '/', port: 8080 },
    resources: { cpu: 0.5, memory: 64 * MiB, pids: 64 },
    gpus: [],
  });
  const assign = async (replicas: ReplicaAssignment[]): Promise<void> => {
    const value: NodeAssignments = {
      nodeId: NODE,
      generation: ++generation,
      updatedAt: new Date().toISOString(),
      replicas,
    };
    await kv.put(NODE, value);
  };
  const of = (replicaId: string): ReplicaReport[] => reports.filter((r) => r.replicaId === replicaId);
  const reported = (replicaId: string, phase: ReplicaReport['phase'], timeoutMs = 20_000) =>
    waitFor(`${replicaId} ${phase}`, () => of(replicaId).find((r) => r.phase === phase), { timeoutMs });
  const present = async (): Promise<boolean> =>
    docker
      .getImage(image)
      .inspect()
      .then(() => true)
      .catch(() => false);
  /** Runs `replicaId` (of `projectId`, with image `ref`) alone on the node and waits for its end: FAILED (or READY). */
  const runAlone = async (
    replicaId: string,
    phase: ReplicaReport['phase'],
    projectId = PROJECT,
    ref = image,
  ): Promise<ReplicaReport> => {
    await assign([replica(replicaId, projectId, ref)]);
    return reported(replicaId, phase);
  };

  beforeAll(async () => {
    ns = await createTestNamespace('nar');
    stateDir = await mkdtemp(join(tmpdir(), 'gantry-node-agent-registry-'));
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'node.report.v1'), {
      callback: (error, m) => {
        if (!error) reports.push(m.json<ReplicaReport>());
      },
    });
    // The api-gateway's part, as its @OnQuery handler answers.
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'query.registry-auth.v1'), {
      callback: (error, m) => {
        if (error) return;
        const q = m.json<RegistryAuthQuery>();
        queries.push(q);
        const reply = answer(q);
        if (reply !== undefined) m.respond(encodeJson(reply));
      },
    });
    await ns.bus.nc.flush();
    kv = await ns.bus.kv('assignments');

    registry = await startTestRegistry({ username: 'ci', password: `pw-${run}` });
    image = `${registry.host}/private/web:1`;
    await buildTestImage(docker, image, webAppSpec('private'));
    await registry.push(docker, image);
    await removeImage(docker, image);
    expect(await present()).toBe(false);

    const config = NodeAgentConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      NODE_ID: NODE,
      NODE_ADDRESS: '127.0.0.1',
      HEARTBEAT_INTERVAL_MS: '500',
      ORPHAN_GRACE_MS: '1000',
      RESYNC_INTERVAL_MS: '1000',
      IMAGE_PULL_TIMEOUT_MS: '15000',
      REGISTRY_AUTH_TIMEOUT_MS: '1000',
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
    if (image) await removeImage(docker, image);
    await registry?.stop();
    await ns?.destroy();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('fails the replica when no credentials are stored for the registry, saying how to add them', async () => {
    answer = () => ({ ok: true, data: {} });
    const failed = await runAlone('r-none', 'FAILED');
    expect(of('r-none').map((r) => r.phase)).toEqual(['PULLING', 'FAILED']);
    expect(failed.reason).toBe('JOB_IMAGE_PULL');
    expect(failed.message).toBe(
      `image "${image}" could not be pulled: registry ${registry.host} needs credentials: ` +
        `add them with gantry registry add ${registry.host} (or POST /v1/registry); the engine said: ` +
        `Head "http://${registry.host}/v2/private/web/manifests/1": no basic auth credentials`,
    );
    expect(queries).toContainEqual({ projectId: PROJECT, image });
    expect(await present()).toBe(false);
  });

  it('fails the replica when the registry refuses the stored credentials, naming them', async () => {
    answer = () => credentials('not-the-password');
    const failed = await runAlone('r-wrong', 'FAILED');
    expect(failed.reason).toBe('JOB_IMAGE_PULL');
    expect(failed.message).toContain(
      `image "${image}" could not be pulled: registry ${registry.host} refused the credentials of ` +
        `registry ${registry.host} (user ci): `,
    );
    expect(failed.message).toContain('gantry registry update <registry-id>');
    expect(failed.message).toMatch(/; the engine said: unauthorized: authentication required$/);
    expect(failed.message).not.toContain('not-the-password');
    expect(await present()).toBe(false);
  });

  it('says the credentials could not be looked up when the gateway is silent or answers out of contract', async () => {
    answer = () => undefined;
    const silent = await runAlone('r-silent', 'FAILED');
    expect(silent.message).toContain(
      `registry ${registry.host} needs credentials, and those stored for it could not be looked up ` +
        '(api-gateway did not answer within 1000 ms): retry later',
    );
    answer = () => ({ ok: true, data: { auth: { url: registry.host } } });
    const garbled = await runAlone('r-garbled', 'FAILED');
    expect(garbled.message).toContain(
      'could not be looked up (answer to query.registry-auth.v1: auth.serverAddress: ',
    );
    expect(await present()).toBe(false);
  });

  it('pulls with the stored credentials and runs the replica until it is ready', async () => {
    answer = () => credentials(registry.password);
    const ready = await runAlone('r-right', 'READY');
    expect(of('r-right').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
    expect(await present()).toBe(true);
    const res = await fetch(`http://127.0.0.1:${ready.endpoint?.ports['8080']}/`);
    expect(await res.text()).toBe('hello from private\n');
    expect(queries.at(-1)).toEqual({ projectId: PROJECT, image });
  });

  it("pulls the image again for each replica although it is on the node: another project's pull is no pass", async () => {
    const OTHER = 'proj-other';
    // PROJECT has the credentials (its replica r-right pulled the image just before); OTHER has none.
    answer = (q) => (q.projectId === PROJECT ? credentials(registry.password) : { ok: true, data: {} });
    expect(await present()).toBe(true);
    const failed = await runAlone('r-other', 'FAILED', OTHER);
    expect(of('r-other').map((r) => r.phase)).toEqual(['PULLING', 'FAILED']);
    expect(failed.reason).toBe('JOB_IMAGE_PULL');
    expect(failed.message).toBe(
      `image "${image}" could not be pulled: registry ${registry.host} needs credentials: ` +
        `add them with gantry registry add ${registry.host} (or POST /v1/registry); the engine said: ` +
        `Head "http://${registry.host}/v2/private/web/manifests/1": no basic auth credentials`,
    );
    expect(queries.at(-1)).toEqual({ projectId: OTHER, image });

    // Nor by another name of the same local image: its digest.
    const digest = (await docker.getImage(image).inspect()).RepoDigests.find((d) =>
      d.startsWith(`${registry.host}/private/web@sha256:`),
    );
    if (!digest) throw new Error(`no digest of ${registry.host}/private/web on the image`);
    const byDigest = await runAlone('r-other-digest', 'FAILED', OTHER, digest);
    expect(byDigest.message).toContain(`could not be pulled: registry ${registry.host} needs credentials: `);
    expect(queries.at(-1)).toEqual({ projectId: OTHER, image: digest });

    const mine = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.namespace}=${ns.namespace}`] },
    });
    expect(mine.filter((c) => c.Names.some((n) => n.includes('r-other')))).toEqual([]);
    expect(await present()).toBe(true);

    // The project that has credentials still runs it, checked again with its own.
    await runAlone('r-right-again', 'READY');
    expect(of('r-right-again').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
    expect(queries.at(-1)).toEqual({ projectId: PROJECT, image });
  });
});
