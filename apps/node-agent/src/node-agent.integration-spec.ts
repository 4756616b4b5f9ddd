import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  indexEntry,
  INLINE_ASSIGNMENT_MAX_BYTES,
  type LogBatch,
  type NodeAssignments,
  type NodeHeartbeat,
  type ReplicaAssignment,
  replicaAssignmentKey,
  type ReplicaReport,
  wireBucket,
  wireSubject,
} from '@gantry/contracts';
import type { TypedKv } from '@gantry/messaging';
import { runService } from '@gantry/runtime';
import {
  buildTestImage,
  crashingAppSpec,
  createTestNamespace,
  removeImage,
  sleep,
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
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z$/;

/**
 * The node agent against the real Docker Engine and NATS. The test plays the scheduler: it writes the
 * node's assignment list into KV `assignments` and reads the reports, logs and heartbeats the agent
 * publishes. Images are built at run time FROM scratch (no registry).
 */
describe('node-agent on the real Docker Engine and NATS', () => {
  const docker = new Docker();
  const run = uniqueName('na').toLowerCase();
  const webImage = `gantry-test/${run}-web:1`;
  const crashImage = `gantry-test/${run}-crash:1`;
  const missingImage = `gantry-test/${run}-missing:1`;
  const NODE = `node-${run}`;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let kv: TypedKv<'assignments'>;
  let stateDir: string;
  let app: INestApplication | undefined;
  let generation = 0;
  const foreign: string[] = [];
  const reports: ReplicaReport[] = [];
  const batches: LogBatch[] = [];
  const heartbeats: NodeHeartbeat[] = [];

  const web = (replicaId: string): ReplicaAssignment => ({
    replicaId,
    appId: `app-${replicaId}`,
    projectId: 'proj-1',
    image: webImage,
    envVars: [{ name: 'GREETING', value: 'hi' }],
    ports: [8080],
    probe: { path: '/', port: 8080 },
    resources: { cpu: 0.5, memory: 64 * MiB, pids: 64 },
    gpus: [],
  });
  const assign = async (replicas: ReplicaAssignment[], gen = ++generation): Promise<void> => {
    generation = Math.max(generation, gen);
    const value: NodeAssignments = {
      nodeId: NODE,
      generation: gen,
      updatedAt: new Date().toISOString(),
      replicas,
    };
    await kv.put(NODE, value);
  };
  const of = (replicaId: string, from = 0): ReplicaReport[] =>
    reports.slice(from).filter((r) => r.replicaId === replicaId);
  const reported = (replicaId: string, phase: ReplicaReport['phase'], from = 0, timeoutMs = 10_000) =>
    waitFor(`${replicaId} ${phase}`, () => of(replicaId, from).find((r) => r.phase === phase), { timeoutMs });
  const containersOf = (replicaId: string) =>
    docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.replica}=${replicaId}`] },
    });
  const lines = (replicaId: string) =>
    batches.filter((b) => b.replicaId === replicaId).flatMap((b) => b.lines);

  const startAgent = async (): Promise<INestApplication> => {
    const config = NodeAgentConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      NODE_ID: NODE,
      NODE_ADDRESS: '127.0.0.1',
      HEARTBEAT_INTERVAL_MS: '200',
      ORPHAN_GRACE_MS: '1500',
      // Long: Docker events and the assignment watch must drive convergence, not the periodic resync.
      RESYNC_INTERVAL_MS: '20000',
      IMAGE_PULL_TIMEOUT_MS: '5000',
      STATE_DIR: stateDir,
      LOG_LEVEL: 'error',
    });
    return runService({
      name: SERVICE,
      module: NodeAgentModule.forRoot(config, {
        policy: { baseDelayMs: 200, maxDelayMs: 1000, maxRestartsBeforeReady: 2, stableAfterMs: 60_000 },
        probeTiming: { fastMs: 100, slowMs: 300, timeoutMs: 500, failureThreshold: 3 },
      }),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
    });
  };

  beforeAll(async () => {
    ns = await createTestNamespace('na');
    stateDir = await mkdtemp(join(tmpdir(), 'gantry-node-agent-'));
    const collect =
      <T>(into: T[]) =>
      (error: Error | null, m: { json: <U>() => U }) => {
        if (!error) into.push(m.json<T>());
      };
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'node.report.v1'), { callback: collect(reports) });
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'logs.batch.v1'), { callback: collect(batches) });
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'node.heartbeat.v1'), { callback: collect(heartbeats) });
    await ns.bus.nc.flush();
    kv = await ns.bus.kv('assignments');
    await Promise.all([
      buildTestImage(docker, webImage, webAppSpec('web')),
      buildTestImage(docker, crashImage, crashingAppSpec(3)),
    ]);
    app = await startAgent();
  });

  afterAll(async () => {
    await app?.close();
    const mine = await docker
      .listContainers({ all: true, filters: { label: [`${LABELS.namespace}=${ns?.namespace}`] } })
      .catch(() => []);
    await Promise.all(
      [...mine.map((c) => c.Id), ...foreign].map((id) =>
        docker
          .getContainer(id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    await Promise.all([removeImage(docker, webImage), removeImage(docker, crashImage)]);
    await ns?.destroy();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('runs an assigned web replica as 42420 with limits, labels and its port on the node address', async () => {
    await assign([web('r-web')]);
    const ready = await reported('r-web', 'READY');
    expect(of('r-web').map((r) => r.phase)).toEqual(['STARTING', 'READY']);
    expect(ready).toMatchObject({ nodeId: NODE, appId: 'app-r-web', everReady: true, restarts: 0 });
    const hostPort = ready.endpoint?.ports['8080'];
    expect(ready.endpoint).toEqual({ address: '127.0.0.1', ports: { '8080': expect.any(Number) } });

    const [summary, ...others] = await containersOf('r-web');
    expect(others).toEqual([]);
    const info = await docker.getContainer(summary?.Id ?? '').inspect();
    expect(info.Config.Labels).toEqual({
      [LABELS.namespace]: ns.namespace,
      [LABELS.node]: NODE,
      [LABELS.replica]: 'r-web',
      [LABELS.app]: 'app-r-web',
      [LABELS.project]: 'proj-1',
      [LABELS.generation]: String(generation),
    });
    expect(info.Name).toBe(`/gantry-${ns.namespace}-r-web`);
    expect(info.Config.User).toBe('42420:42420');
    expect(info.Config.Env).toEqual(
      expect.arrayContaining(['GREETING=hi', 'GANTRY_APP_ID=app-r-web', 'GANTRY_REPLICA_ID=r-web']),
    );
    expect(info.HostConfig).toMatchObject({
      NanoCpus: 500_000_000,
      Memory: 64 * MiB,
      PidsLimit: 64,
      Init: true,
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'no' },
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    });
    expect(info.NetworkSettings.Ports['8080/tcp']).toEqual([
      { HostIp: '127.0.0.1', HostPort: String(hostPort) },
    ]);

    const res = await fetch(`http://127.0.0.1:${hostPort}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello from web\n');
    expect(await (await fetch(`http://127.0.0.1:${hostPort}/cgi-bin/whoami`)).text()).toContain('uid=42420');

    const started = await waitFor('the start line shipped', () =>
      lines('r-web').find((l) => l.line === 'web listening on 8080'),
    );
    expect(started).toEqual({
      ts: expect.stringMatching(STAMP),
      stream: 'stdout',
      line: 'web listening on 8080',
    });
    // httpd -v logs each request on stderr: the lines of the GETs above arrive too.
    await waitFor('a request line on stderr', () => lines('r-web').find((l) => l.stream === 'stderr'));
    const batch = batches.find((b) => b.replicaId === 'r-web');
    expect(batch).toMatchObject({ nodeId: NODE, appId: 'app-r-web', replicaId: 'r-web' });

    const hb = await waitFor('a heartbeat with the ready replica', () =>
      heartbeats.findLast((h) => h.replicas.some((r) => r.replicaId === 'r-web' && r.phase === 'READY')),
    );
    expect(hb).toMatchObject({ nodeId: NODE, address: '127.0.0.1', appliedGeneration: generation });
  });

  it('ignores an assignment list older than the one applied (fencing)', async () => {
    const [before] = await containersOf('r-web');
    await assign([web('r-web')], generation + 5);
    const applied = generation;
    await waitFor('the new generation applied', () => heartbeats.at(-1)?.appliedGeneration === applied);
    const mark = reports.length;
    await assign([], applied - 1); // a deposed scheduler's late write
    await sleep(1500); // several resync passes and heartbeats
    expect(of('r-web', mark)).toEqual([]);
    const after = await containersOf('r-web');
    expect(after.map((c) => [c.Id, c.State])).toEqual([[before?.Id, 'running']]);
    expect(heartbeats.at(-1)?.appliedGeneration).toBe(applied);
    generation = applied;
  });

  it('ignores an assignment value that does not match the schema, and stays ready', async () => {
    const [before] = await containersOf('r-web');
    const subject = `$KV.${wireBucket(ns.namespace, 'assignments')}.${NODE}`;
    const hostile = [
      'not json at all {',
      JSON.stringify({ nodeId: NODE, generation: 999, replicas: 'everything' }),
      JSON.stringify({
        nodeId: NODE,
        generation: 1e6,
        updatedAt: new Date().toISOString(),
        replicas: [{ replicaId: '../../etc' }],
      }),
      // Valid, but addressed to another node.
      JSON.stringify({
        nodeId: 'someone-else',
        generation: 1e6,
        updatedAt: new Date().toISOString(),
        replicas: [],
      }),
    ];
    for (const body of hostile)
      await ns.bus.nc.request(subject, new TextEncoder().encode(body), { timeout: 2000 });
    await sleep(800);
    const url = await app?.getUrl();
    const ready = await fetch(`${url}/readyz`);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { nats: 'ok', docker: 'ok', assignments: 'ok' },
    });
    expect(ready.status).toBe(200);
    expect((await containersOf('r-web')).map((c) => [c.Id, c.State])).toEqual([[before?.Id, 'running']]);
    expect(heartbeats.at(-1)?.appliedGeneration).toBe(generation);
    // A valid list afterwards is applied as usual.
    await assign([web('r-web')]);
    await waitFor('the next generation applied', () => heartbeats.at(-1)?.appliedGeneration === generation);
  });

  it('re-adopts its running container after a restart instead of re-creating it', async () => {
    const [before] = await containersOf('r-web');
    const shipped = lines('r-web').length;
    await app?.close();
    app = undefined;
    expect((await containersOf('r-web')).map((c) => [c.Id, c.State])).toEqual([[before?.Id, 'running']]);
    const mark = reports.length;
    app = await startAgent();
    const ready = await reported('r-web', 'READY', mark);
    const after = await containersOf('r-web');
    expect(after.map((c) => [c.Id, c.State])).toEqual([[before?.Id, 'running']]);
    expect(ready.endpoint?.ports['8080']).toBeGreaterThan(0);
    await sleep(500);
    expect(of('r-web', mark).map((r) => r.phase)).toEqual(['READY']);
    // The log cursor survived the restart: what is shipped since (the probes' request lines) is newer
    // than what was shipped before, and nothing is shipped twice.
    const last = lines('r-web')[shipped - 1]?.ts ?? '';
    await waitFor('request lines of the new probes', () => lines('r-web').length > shipped);
    expect(
      lines('r-web')
        .slice(shipped)
        .every((l) => l.ts > last),
    ).toBe(true);
    const all = lines('r-web').map((l) => `${l.ts} ${l.stream} ${l.line}`);
    expect(new Set(all).size).toBe(all.length);
  });

  it('ships what a container wrote while the agent was down, and restarts it if it exited meanwhile', async () => {
    const [before] = await containersOf('r-web');
    const port = of('r-web').findLast((r) => r.phase === 'READY')?.endpoint?.ports['8080'];
    await app?.close();
    app = undefined;
    expect((await fetch(`http://127.0.0.1:${port}/no-such-page`)).status).toBe(404);
    await docker.getContainer(before?.Id ?? '').stop({ t: 5 });
    const mark = reports.length;
    app = await startAgent();
    const restarting = await reported('r-web', 'RESTARTING', mark);
    expect(restarting).toMatchObject({ everReady: true, restarts: 1, exitCode: expect.any(Number) });
    await reported('r-web', 'READY', mark);
    expect((await containersOf('r-web')).map((c) => [c.Id, c.State])).toEqual([[before?.Id, 'running']]);
    await waitFor('the request line written while no agent followed', () =>
      lines('r-web').some((l) => l.stream === 'stderr' && l.line.endsWith('response:404')),
    );
    const all = lines('r-web').map((l) => `${l.ts} ${l.stream} ${l.line}`);
    expect(new Set(all).size).toBe(all.length);
  });

  it('removes an orphan of its namespace after the grace period, and never touches another namespace', async () => {
    const labels = (namespace: string, replicaId: string) => ({
      [LABELS.namespace]: namespace,
      [LABELS.node]: NODE,
      [LABELS.replica]: replicaId,
      [LABELS.app]: `app-${replicaId}`,
      [LABELS.project]: 'proj-1',
      [LABELS.generation]: '1',
    });
    const other = await docker.createContainer({
      Image: webImage,
      User: '42420:42420',
      Labels: labels(`${ns.namespace}_other`, 'r-foreign'),
      HostConfig: { Init: true },
    });
    foreign.push(other.id);
    await other.start();
    const orphan = await docker.createContainer({
      Image: webImage,
      User: '42420:42420',
      Labels: labels(ns.namespace, 'r-orphan'),
      HostConfig: { Init: true },
    });
    await orphan.start();
    const created = Date.now();
    await sleep(700);
    expect(await containersOf('r-orphan')).toHaveLength(1); // within its grace period
    const stopped = await reported('r-orphan', 'STOPPED');
    expect(Date.now() - created).toBeGreaterThanOrEqual(1400);
    expect(stopped).toMatchObject({
      appId: 'app-r-orphan',
      message: expect.stringContaining('no assignment'),
    });
    await waitFor('the orphan removed', async () => (await containersOf('r-orphan')).length === 0, {
      timeoutMs: 5000,
    });
    expect((await other.inspect()).State.Running).toBe(true);
    expect((await containersOf('r-web')).map((c) => c.State)).toEqual(['running']);
  });

  it('stops and removes an unassigned replica promptly and reports it stopped', async () => {
    const mark = reports.length;
    const t0 = Date.now();
    await assign([]);
    await waitFor('the container removed', async () => (await containersOf('r-web')).length === 0, {
      timeoutMs: 8000,
    });
    const stopped = await reported('r-web', 'STOPPED', mark);
    expect(Date.now() - t0).toBeLessThan(5000); // not the 10 s SIGTERM → SIGKILL grace
    expect(stopped).toMatchObject({ appId: 'app-r-web', everReady: true });
    await waitFor('an empty heartbeat', () => {
      const hb = heartbeats.at(-1);
      return hb?.appliedGeneration === generation && hb.replicas.length === 0;
    });
  });

  it('runs a replica whose assignment is too large to travel inline, read from its own key', async () => {
    const big = {
      ...web('r-big'),
      envVars: [{ name: 'BIG', value: 'x'.repeat(2 * INLINE_ASSIGNMENT_MAX_BYTES) }],
    };
    expect(indexEntry(big)).toEqual({ replicaId: 'r-big', ref: true });
    await (await ns.bus.kv('replica-assignments')).put(replicaAssignmentKey(NODE, 'r-big'), big);
    generation++;
    await kv.put(NODE, {
      nodeId: NODE,
      generation,
      updatedAt: new Date().toISOString(),
      replicas: [indexEntry(big)],
    });
    await reported('r-big', 'READY');
    const [summary] = await containersOf('r-big');
    const info = await docker.getContainer(summary?.Id ?? '').inspect();
    expect(info.Config.Env).toContain(`BIG=${'x'.repeat(2 * INLINE_ASSIGNMENT_MAX_BYTES)}`);
    await assign([]);
    await waitFor('the container removed', async () => (await containersOf('r-big')).length === 0, {
      timeoutMs: 8000,
    });
  });

  it('restarts a crashing replica with backoff, then fails it with its exit code and last log lines', async () => {
    await assign([{ ...web('r-crash'), image: crashImage }]);
    const failed = await reported('r-crash', 'FAILED', 0, 12_000);
    const restarting = of('r-crash').filter((r) => r.phase === 'RESTARTING');
    expect(restarting.map((r) => [r.restarts, r.exitCode])).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(restarting.map((r) => r.message)).toEqual([
      'the container exited with code 3; restart 1 in 0.2 s',
      'the container exited with code 3; restart 2 in 0.4 s',
    ]);
    // Backoff: the next exit comes at least the announced delay after the previous one.
    const at = [...restarting, failed].map((r) => Date.parse(r.at));
    expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(200);
    expect((at[2] ?? 0) - (at[1] ?? 0)).toBeGreaterThanOrEqual(400);
    expect(failed).toMatchObject({ reason: 'APP_CRASH_LOOP', exitCode: 3, restarts: 2, everReady: false });
    expect(failed.message).toContain('exited with code 3');
    expect(failed.message).toContain('stdout: starting up');
    expect(failed.message).toContain('stderr: fatal: cannot load model weights');
    // It stays failed: the container is not started again.
    await sleep(800);
    expect(of('r-crash').at(-1)?.phase).toBe('FAILED');
    const [c] = await containersOf('r-crash');
    expect(c?.State).toBe('exited');
    // The output of every run (each exits at once) is shipped, once.
    const count = (line: string) => lines('r-crash').filter((l) => l.line === line).length;
    await waitFor('the output of the 3 runs shipped', () => count('fatal: cannot load model weights') === 3);
    await sleep(300);
    expect([count('starting up'), count('fatal: cannot load model weights')]).toEqual([3, 3]);
  });

  it('fails a replica whose image does not exist', async () => {
    await assign([{ ...web('r-missing'), image: missingImage }]);
    const failed = await reported('r-missing', 'FAILED', 0, 15_000);
    expect(of('r-missing').map((r) => r.phase)).toEqual(['PULLING', 'FAILED']);
    expect(failed.reason).toBe('JOB_IMAGE_PULL');
    // Offline, the engine cannot reach Docker Hub; online, Docker Hub answers "pull access denied …,
    // repository does not exist or may require 'docker login'", which reads as a registry's refusal.
    expect(failed.message).toMatch(
      new RegExp(`^image "${missingImage}" (does not exist locally and )?could not be pulled: `),
    );
    expect(await containersOf('r-missing')).toEqual([]);
    // The crashed replica, no longer assigned, is removed.
    await waitFor('the crashed container removed', async () => (await containersOf('r-crash')).length === 0);
    await reported('r-crash', 'STOPPED');
  });
});
