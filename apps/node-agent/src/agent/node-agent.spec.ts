import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type {
  LogBatch,
  NodeAssignments,
  NodeHeartbeat,
  NodeUsage,
  QueryRequest,
  QueryResponse,
  RegistryAuthQuery,
  RegistryAuthResult,
  ReplicaAssignment,
  ReplicaReport,
} from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsoleLogger, Logger } from '@nestjs/common';

import { NodeAgentConfigSchema } from '../config.js';
import { type ContainerSummary, DriverError, type Owner, type PullOptions } from '../driver/driver.js';
import { FakeDriver } from '../driver/fake/fake-driver.js';
import { Checkpoint } from './checkpoint.js';
import type { AssignmentWatch, ControlPlane } from './control-plane.js';
import { NodeAgent } from './node-agent.js';

type ScrapeQuery = QueryRequest<'query.replica-scrape.v1'>;

/** The control plane in memory: what the agent publishes, and an assignment list to change. */
class MemoryPlane implements ControlPlane {
  readonly reports: ReplicaReport[] = [];
  readonly batches: LogBatch[] = [];
  readonly heartbeats: NodeHeartbeat[] = [];
  readonly usage: NodeUsage[] = [];
  private readonly scrapers = new Map<
    string,
    (q: ScrapeQuery) => Promise<QueryResponse<'query.replica-scrape.v1'>>
  >();
  /** The registry credential lookups asked, and how they are answered (default: none stored). */
  readonly authQueries: RegistryAuthQuery[] = [];
  answerAuth: (q: RegistryAuthQuery) => Promise<RegistryAuthResult['auth']> = () =>
    Promise.resolve(undefined);
  private value: NodeAssignments | null = null;
  private readonly listeners = new Set<(v: NodeAssignments | null) => void>();

  put(v: NodeAssignments | null): void {
    this.value = v;
    for (const l of this.listeners) l(v);
  }
  watchAssignments(_nodeId: string, onChange: (v: NodeAssignments | null) => void): Promise<AssignmentWatch> {
    this.listeners.add(onChange);
    if (this.value) onChange(this.value);
    return Promise.resolve({ ready: Promise.resolve(), stop: () => this.listeners.delete(onChange) });
  }
  getAssignments(): Promise<NodeAssignments | null> {
    return Promise.resolve(this.value);
  }
  publishReport(r: ReplicaReport): Promise<void> {
    this.reports.push(r);
    return Promise.resolve();
  }
  publishLogs(b: LogBatch): Promise<void> {
    this.batches.push(b);
    return Promise.resolve();
  }
  registryAuth(q: RegistryAuthQuery): Promise<RegistryAuthResult['auth']> {
    this.authQueries.push(q);
    return this.answerAuth(q);
  }
  heartbeat(hb: NodeHeartbeat): void {
    this.heartbeats.push(hb);
  }
  publishUsage(u: NodeUsage): void {
    this.usage.push(u);
  }
  serveScrapes(
    nodeId: string,
    handler: (q: ScrapeQuery) => Promise<QueryResponse<'query.replica-scrape.v1'>>,
  ): () => void {
    this.scrapers.set(nodeId, handler);
    return () => this.scrapers.delete(nodeId);
  }
  /** Asks the node's agent for a scrape, as the autoscaler would over NATS. */
  scrape(nodeId: string, q: ScrapeQuery): Promise<QueryResponse<'query.replica-scrape.v1'>> {
    const handler = this.scrapers.get(nodeId);
    return handler ? handler(q) : Promise.reject(new Error(`no one serves scrapes for ${nodeId}`));
  }
  connected(): boolean {
    return true;
  }
  of(replicaId: string): ReplicaReport[] {
    return this.reports.filter((r) => r.replicaId === replicaId);
  }
  lines(replicaId: string): string[] {
    return this.batches.filter((b) => b.replicaId === replicaId).flatMap((b) => b.lines.map((l) => l.line));
  }
}

const NODE = 'fake-node';
const assignment = (
  replicaId: string,
  image: string,
  over: Partial<ReplicaAssignment> = {},
): ReplicaAssignment => ({
  replicaId,
  appId: `app-${replicaId}`,
  projectId: 'p1',
  image,
  envVars: [],
  ports: [8080],
  probe: { path: '/', port: 8080 },
  resources: { cpu: 1, memory: 256 << 20, pids: 256 },
  gpus: [],
  ...over,
});
const list = (generation: number, replicas: ReplicaAssignment[]): NodeAssignments => ({
  nodeId: NODE,
  generation,
  updatedAt: new Date().toISOString(),
  replicas,
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const agents: NodeAgent[] = [];
function agentOn(
  driver: FakeDriver,
  plane: MemoryPlane,
  checkpoint = Checkpoint.inMemory(),
  orphanGraceMs = 150,
  resyncIntervalMs = 100,
  env: Record<string, string> = {},
): NodeAgent {
  const agent = new NodeAgent({
    config: NodeAgentConfigSchema.parse({
      NODE_ID: NODE,
      GANTRY_NAMESPACE: 'unit',
      HEARTBEAT_INTERVAL_MS: '100',
      ORPHAN_GRACE_MS: String(orphanGraceMs),
      RESYNC_INTERVAL_MS: String(resyncIntervalMs),
      SIMULATED_GPUS: '2:a100',
      ...env,
    }),
    plane,
    driver,
    prober: driver.prober(),
    checkpoint,
    policy: { baseDelayMs: 20, maxDelayMs: 80, maxRestartsBeforeReady: 3, stableAfterMs: 60_000 },
    probeTiming: { fastMs: 10, slowMs: 30, timeoutMs: 50, failureThreshold: 3 },
    batching: { maxLines: 200, maxDelayMs: 10 },
  });
  agents.push(agent);
  return agent;
}

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

describe('NodeAgent on the fake driver', () => {
  it('runs an assigned replica until it is ready, ships its logs, and stops it once unassigned', async () => {
    const driver = new FakeDriver().addImage('web:1', { output: ['listening', 'stderr:warming up'] });
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    plane.put(list(1, [assignment('r1', 'web:1', { gpus: [{ index: 1, uuid: 'GPU-x' }] })]));
    await agent.start();

    const ready = await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    expect(plane.of('r1').map((r) => r.phase)).toEqual(['STARTING', 'READY']);
    expect(ready).toMatchObject({ nodeId: NODE, appId: 'app-r1', everReady: true, restarts: 0 });
    expect(ready.endpoint).toEqual({ address: '127.0.0.1', ports: { '8080': expect.any(Number) } });
    const [c] = driver.all();
    expect(c?.spec).toMatchObject({ user: '42420:42420', name: 'gantry-unit-r1', cpus: 1, pidsLimit: 256 });
    expect(c?.spec.env).toMatchObject({
      GANTRY_APP_ID: 'app-r1',
      GANTRY_REPLICA_ID: 'r1',
      NVIDIA_VISIBLE_DEVICES: 'GPU-x',
    });
    await until('logs', () => plane.lines('r1').length === 2);
    expect(plane.lines('r1')).toEqual(['listening', 'warming up']);
    await until('a heartbeat with the replica', () =>
      plane.heartbeats.find((h) => h.replicas.some((r) => r.replicaId === 'r1' && r.phase === 'READY')),
    );
    const hb = plane.heartbeats.at(-1);
    expect(hb).toMatchObject({
      nodeId: NODE,
      simulatedGpus: true,
      appliedGeneration: 1,
      capacity: { cpus: 8 },
    });
    expect(hb?.capacity.gpus.map((g) => g.model)).toEqual(['NVIDIA A100-SXM4-80GB', 'NVIDIA A100-SXM4-80GB']);

    plane.put(list(2, []));
    await until('STOPPED', () => plane.of('r1').find((r) => r.phase === 'STOPPED'));
    expect(driver.all()).toEqual([]);
    const seqs = plane.of('r1').map((r) => r.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(plane.reports.map((r) => r.id)).size).toBe(plane.reports.length);
  });

  it('pulls a missing image, and fails a replica whose image cannot be pulled', async () => {
    const driver = new FakeDriver().allowPull('remote:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', 'remote:1'), assignment('r2', 'gantry-test/does-not-exist:1')]));
    await until('r1 READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    expect(plane.of('r1').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
    const failed = await until('r2 FAILED', () => plane.of('r2').find((r) => r.phase === 'FAILED'));
    expect(failed.reason).toBe('JOB_IMAGE_PULL');
    expect(failed.message).toMatch(
      /^image "gantry-test\/does-not-exist:1" does not exist locally and could not be pulled: manifest for .* not found/,
    );
    expect(driver.pulls).toEqual(['remote:1', 'gantry-test/does-not-exist:1']);
  });

  it('refuses an image built for another architecture', async () => {
    const driver = new FakeDriver().addImage('arm:1', {}, 'arm64');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', 'arm:1')]));
    const failed = await until('FAILED', () => plane.of('r1').find((r) => r.phase === 'FAILED'));
    expect(failed).toMatchObject({ reason: 'COMPATIBILITY' });
    expect(failed.message).toContain('linux/arm64');
    expect(driver.all()).toEqual([]);
  });

  it('restarts a replica that crashes before it is ever ready 3 times, then fails it with its exit code and logs', async () => {
    const driver = new FakeDriver().addImage('crash:1', {
      serves: false,
      exitAfterMs: 5,
      exitCode: 3,
      output: ['starting up', 'stderr:fatal: cannot load model weights'],
    });
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', 'crash:1')]));
    const failed = await until('FAILED', () => plane.of('r1').find((r) => r.phase === 'FAILED'));
    const restarting = plane.of('r1').filter((r) => r.phase === 'RESTARTING');
    expect(restarting.map((r) => [r.restarts, r.exitCode])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(failed).toMatchObject({ reason: 'APP_CRASH_LOOP', exitCode: 3, restarts: 3, everReady: false });
    expect(failed.message).toContain('exited with code 3');
    expect(failed.message).toContain('stderr: fatal: cannot load model weights');
    // It stays failed: no more restarts.
    await new Promise((r) => setTimeout(r, 300));
    expect(plane.of('r1').at(-1)?.phase).toBe('FAILED');
  });

  it('restarts a replica that was ready, and reports it ready again', async () => {
    const driver = new FakeDriver().addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', 'web:1')]));
    await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    const [c] = driver.all();
    driver.crash(c?.id ?? '', 137);
    const restarting = await until('RESTARTING', () => plane.of('r1').find((r) => r.phase === 'RESTARTING'));
    expect(restarting).toMatchObject({ exitCode: 137, restarts: 1, everReady: true });
    await until('READY again', () => plane.of('r1').filter((r) => r.phase === 'READY').length === 2);
    expect(driver.all()).toHaveLength(1);
    expect(driver.all()[0]?.id).toBe(c?.id);
  });

  it('notices an exit even when the container list still shows it running at the die event', async () => {
    // Like Docker: `die` is sent before the container list says the container stopped.
    class LaggingListDriver extends FakeDriver {
      override async listContainers(owner: Owner): Promise<ContainerSummary[]> {
        const list = await super.listContainers(owner);
        return Promise.all(
          list.map(async (c) => {
            const d = await this.inspectContainer(c.id);
            const lagging =
              c.state === 'exited' && d?.finishedAt !== undefined && Date.now() - d.finishedAt < 50;
            return lagging ? { ...c, state: 'running' as const } : c;
          }),
        );
      }
    }
    const driver = new LaggingListDriver().addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane, Checkpoint.inMemory(), 150, 60_000); // no periodic resync to fall back on
    await agent.start();
    plane.put(list(1, [assignment('r1', 'web:1')]));
    await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    driver.crash(driver.all()[0]?.id ?? '', 137);
    const restarting = await until(
      'RESTARTING',
      () => plane.of('r1').find((r) => r.phase === 'RESTARTING'),
      1000,
    );
    expect(restarting).toMatchObject({ exitCode: 137, restarts: 1 });
  });

  it('says what the readiness probe gets while a replica is not ready yet, with its last log lines', async () => {
    const driver = new FakeDriver().addImage('deaf:1', { serves: false, output: ['listening on :9090'] });
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', 'deaf:1')]));
    const said = await until('a probe report', () => plane.of('r1').find((r) => r.message !== undefined));
    expect(said.phase).toBe('STARTING');
    expect(said.message).toMatch(
      /^readiness probe GET \/ on :8080: answered 503 \(\d+ tr(y|ies) over \d+ s\); its last log lines:\nstdout: listening on :9090$/,
    );
    // Said again only when it changes or after a while, not at every try.
    await new Promise((r) => setTimeout(r, 200));
    expect(plane.of('r1').filter((r) => r.message !== undefined)).toHaveLength(1);
  });

  it('lists in its heartbeat every replica it still has a container of, under the generation it looked at', async () => {
    const driver = new FakeDriver().addImage('web:1');
    const plane = new MemoryPlane();
    const checkpoint = Checkpoint.inMemory();
    const first = agentOn(driver, plane, checkpoint);
    await first.start();
    plane.put(list(1, [assignment('r1', 'web:1'), assignment('r2', 'web:1'), assignment('r3', 'web:1')]));
    await until('all READY', () =>
      ['r1', 'r2', 'r3'].every((id) => plane.of(id).some((r) => r.phase === 'READY')),
    );
    await first.stop();
    // While the agent is down, r2 and r3 are unassigned and r2's container vanishes (removed by hand).
    const r2 = driver.all().find((c) => c.spec.name.endsWith('-r2'));
    await driver.removeContainer(r2?.id ?? '');
    plane.put(list(2, [assignment('r1', 'web:1')]));
    const second = agentOn(driver, plane, checkpoint, 60_000);
    await second.start();
    const hb = await until('a look under generation 2', () => {
      const p = second.heartbeatPayload();
      return p.observedGeneration === 2 && p;
    });
    const listed = new Map(hb.replicas.map((r) => [r.replicaId, r.phase]));
    expect(listed.has('r2')).toBe(false); // gone: the scheduler may drop it
    expect(listed.get('r3')).toBe('PRESENT'); // an orphan within its grace period still holds its place
    expect(listed.has('r1')).toBe(true);
  });

  it('adopts running containers after a restart of the agent and removes orphans after the grace period', async () => {
    const driver = new FakeDriver().addImage('web:1', { output: ['hello once'] });
    const plane = new MemoryPlane();
    const checkpoint = Checkpoint.inMemory();
    const first = agentOn(driver, plane, checkpoint);
    await first.start();
    plane.put(list(1, [assignment('r1', 'web:1'), assignment('r2', 'web:1')]));
    await until('both READY', () =>
      ['r1', 'r2'].every((id) => plane.of(id).some((r) => r.phase === 'READY')),
    );
    await until('logs', () => plane.lines('r1').length === 1);
    await first.stop();
    const before = driver.all().map((c) => c.id);

    // While the agent is down, r2 is moved elsewhere.
    plane.put(list(2, [assignment('r1', 'web:1')]));
    const second = agentOn(driver, plane, checkpoint, 300);
    const reportsBefore = plane.reports.length;
    await second.start();
    await until('r1 READY again', () =>
      plane.reports.slice(reportsBefore).find((r) => r.replicaId === 'r1' && r.phase === 'READY'),
    );
    expect(driver.all().map((c) => c.id)).toEqual(before); // adopted, nothing re-created
    await new Promise((r) => setTimeout(r, 100));
    expect(driver.all()).toHaveLength(2); // r2's container is within its grace period
    await until('orphan removed', () => driver.all().length === 1);
    expect(driver.all()[0]?.id).toBe(before[0]);
    expect(plane.of('r2').at(-1)).toMatchObject({ phase: 'STOPPED' });
    expect(plane.lines('r1')).toEqual(['hello once']); // not shipped twice
  });

  it('ignores an assignment list older than the one applied', async () => {
    const driver = new FakeDriver().addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(5, [assignment('r1', 'web:1')]));
    await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    plane.put(list(4, [])); // a deposed scheduler's late write
    await new Promise((r) => setTimeout(r, 300));
    expect(plane.of('r1').some((r) => r.phase === 'STOPPED')).toBe(false);
    expect(driver.all()).toHaveLength(1);
    expect(agent.heartbeatPayload().appliedGeneration).toBe(5);
  });
});

describe('NodeAgent liveness probes', () => {
  const LIVENESS = { path: '/healthz', port: 8080, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 1 };
  const live = (replicaId: string, image: string, probe: Partial<ReplicaAssignment['probe']> = {}) =>
    assignment(replicaId, image, { probe: { path: '/', port: 8080, liveness: LIVENESS, ...probe } });

  it('restarts a container that fails its liveness probe failureThreshold times in a row, naming the probe', async () => {
    const driver = new FakeDriver().addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [live('r1', 'web:1')]));
    await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    const [c] = driver.all();
    // Alive for a few periods: nothing happens.
    await new Promise((r) => setTimeout(r, 1500));
    expect(plane.of('r1').map((r) => r.phase)).toEqual(['STARTING', 'READY']);

    driver.sicken(c?.id ?? '');
    const restarting = await until(
      'RESTARTING',
      () => plane.of('r1').find((r) => r.phase === 'RESTARTING'),
      5000,
    );
    expect(restarting).toMatchObject({ restarts: 1, everReady: true, exitCode: 143 });
    expect(restarting.message).toBe(
      'liveness probe GET /healthz on :8080 failed 2 times in a row (last: answered 500); restarting (restart 1 in 0.02 s)',
    );
    // Restarted, not re-created: the same container serves again.
    await until('READY again', () => plane.of('r1').filter((r) => r.phase === 'READY').length === 2, 5000);
    expect(driver.all().map((x) => x.id)).toEqual([c?.id]);
  });

  it('counts no liveness failure during the startup grace; readiness is probed from the start', async () => {
    const driver = new FakeDriver().addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(
      list(1, [
        live('r1', 'web:1', { startupGraceSeconds: 2, liveness: { ...LIVENESS, failureThreshold: 1 } }),
      ]),
    );
    const ready = await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    driver.sicken(driver.all()[0]?.id ?? '');
    const restarting = await until(
      'RESTARTING',
      () => plane.of('r1').find((r) => r.phase === 'RESTARTING'),
      5000,
    );
    expect(Date.parse(restarting.at) - Date.parse(ready.at)).toBeGreaterThanOrEqual(1800);
    expect(restarting.message).toMatch(
      /^liveness probe GET \/healthz on :8080 failed once \(last: answered 500\)/,
    );
  });

  it('fails a replica that its liveness probe keeps restarting before it is ever ready (crash-loop rules)', async () => {
    const driver = new FakeDriver().addImage('deaf:1', { serves: false });
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [live('r1', 'deaf:1', { liveness: { ...LIVENESS, path: '/', failureThreshold: 1 } })]));
    const failed = await until('FAILED', () => plane.of('r1').find((r) => r.phase === 'FAILED'), 5000);
    expect(
      plane
        .of('r1')
        .filter((r) => r.phase === 'RESTARTING')
        .map((r) => r.restarts),
    ).toEqual([1, 2, 3]);
    expect(failed).toMatchObject({ reason: 'APP_CRASH_LOOP', restarts: 3, everReady: false });
    expect(failed.message).toMatch(
      /^the container was stopped: liveness probe GET \/ on :8080 failed once \(last: answered 503\) before it was ever ready, and 3 restarts did not help/,
    );
  });

  it('leaves a replica without a liveness probe running whatever its probes get', async () => {
    const driver = new FakeDriver().addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', 'web:1')]));
    await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    driver.sicken(driver.all()[0]?.id ?? '');
    await until('NOT_READY', () => plane.of('r1').find((r) => r.phase === 'NOT_READY'));
    await new Promise((r) => setTimeout(r, 300));
    expect(plane.of('r1').some((r) => r.phase === 'RESTARTING')).toBe(false);
    expect(driver.all()[0]?.state).toBe('running');
  });
});

describe('NodeAgent refreshing an image as an app starts', () => {
  const IMAGE = 'registry.example.com/team/web:1';
  const D1 = `sha256:${'1'.repeat(64)}`;
  const D2 = `sha256:${'2'.repeat(64)}`;
  const refreshing = (replicaId: string, image = IMAGE) =>
    assignment(replicaId, image, { refreshImage: true });
  const readyOf = (plane: MemoryPlane, replicaId: string) =>
    until(`${replicaId} READY`, () => plane.of(replicaId).find((r) => r.phase === 'READY'));

  it('pulls a tag again when the registry has another digest under it, only for replicas that start a run', async () => {
    const driver = new FakeDriver().allowPull(IMAGE, {}, 'amd64', D1).addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    const on = [refreshing('r1')];
    plane.put(list(1, on));
    await readyOf(plane, 'r1');
    // Absent: a plain pull, no question asked first.
    expect(driver.pulls).toEqual([IMAGE]);
    expect(driver.digestQueries).toEqual([]);

    // The same tag pushed again.
    driver.allowPull(IMAGE, {}, 'amd64', D2);
    // Added later (scaled up): runs the node's copy, as the rest of the run does.
    on.push(assignment('r2', IMAGE));
    plane.put(list(2, on));
    await readyOf(plane, 'r2');
    expect(driver.digestQueries).toEqual([]);
    expect((await driver.inspectImage(IMAGE))?.repoDigests).toEqual([`registry.example.com/team/web@${D1}`]);

    // Starting a run: the registry is asked, and the newer image pulled.
    on.push(refreshing('r3'));
    plane.put(list(3, on));
    await readyOf(plane, 'r3');
    expect(plane.of('r3').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
    expect(driver.digestQueries).toEqual([IMAGE]);
    expect(driver.pulls).toEqual([IMAGE, IMAGE]);
    expect((await driver.inspectImage(IMAGE))?.repoDigests).toEqual([`registry.example.com/team/web@${D2}`]);
    expect(plane.authQueries.map((q) => q.image)).toEqual([IMAGE, IMAGE]);

    // Up to date: asked, not pulled.
    on.push(refreshing('r4'));
    plane.put(list(4, on));
    await readyOf(plane, 'r4');
    expect(plane.of('r4').map((r) => r.phase)).toEqual(['STARTING', 'READY']);
    expect(driver.digestQueries).toEqual([IMAGE, IMAGE]);
    expect(driver.pulls).toHaveLength(2);

    // A registry that cannot be reached: the node's copy runs.
    driver.registryUp = false;
    driver.allowPull(IMAGE, {}, 'amd64', `sha256:${'3'.repeat(64)}`);
    on.push(refreshing('r5'));
    plane.put(list(5, on));
    await readyOf(plane, 'r5');
    expect(plane.of('r5').map((r) => r.phase)).toEqual(['STARTING', 'READY']);
    expect(driver.digestQueries).toHaveLength(3);
    expect(driver.pulls).toHaveLength(2);

    // Built on the node (no registry digest): no question, no lookup.
    const lookups = plane.authQueries.length;
    on.push(refreshing('r6', 'web:1'));
    plane.put(list(6, on));
    await readyOf(plane, 'r6');
    expect(driver.digestQueries).toHaveLength(3);
    expect(plane.authQueries).toHaveLength(lookups);
  });

  it('runs the node’s copy when the newer image cannot be pulled', async () => {
    // A registry that names a new digest but breaks off every pull after the first.
    class FlakyPulls extends FakeDriver {
      override async pullImage(ref: string, opts: PullOptions): Promise<void> {
        if (this.pulls.length > 0) {
          this.pulls.push(ref);
          throw new DriverError('unavailable', 'connection reset by peer');
        }
        return super.pullImage(ref, opts);
      }
    }
    const driver = new FlakyPulls().allowPull(IMAGE, {}, 'amd64', D1);
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [refreshing('r1')]));
    await readyOf(plane, 'r1');
    driver.allowPull(IMAGE, {}, 'amd64', D2);
    plane.put(list(2, [refreshing('r1'), refreshing('r2')]));
    await readyOf(plane, 'r2');
    expect(plane.of('r2').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
    expect(driver.pulls).toEqual([IMAGE, IMAGE]);
    expect((await driver.inspectImage(IMAGE))?.repoDigests).toEqual([`registry.example.com/team/web@${D1}`]);
  });
});

describe('NodeAgent usage and scrapes', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (req.url === '/slow')
        res.write('partial'); // and never ends
      else res.end(`queue_depth 7\n# path ${req.url}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  const scrapeFailure = (plane: MemoryPlane, replicaId: string) =>
    plane.scrape(NODE, { replicaId, port, path: '/metrics', timeoutMs: 1000 }).then(
      () => undefined,
      (e: unknown) => (e instanceof GantryError ? [e.code, e.message] : e),
    );

  it('sends its replicas’ usage every interval, simulated GPUs idle', async () => {
    // The fake's containers are reachable on loopback: the local server plays the replica's metrics port.
    const driver = new FakeDriver().addImage('busy:1', { usage: { cpus: 0.75, memory: 100 << 20 } });
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane, undefined, 150, 100, { USAGE_INTERVAL_MS: '100' });
    plane.put(list(1, [assignment('r1', 'busy:1', { gpus: [{ index: 0, uuid: 'GPU-x' }] })]));
    await agent.start();
    const usage = await until('a usage signal with r1', () =>
      plane.usage.find((u) => u.replicas.some((r) => r.replicaId === 'r1')),
    );
    expect(usage).toMatchObject({ nodeId: NODE, intervalMs: expect.any(Number) });
    expect(usage.replicas).toEqual([
      { replicaId: 'r1', appId: 'app-r1', cpu: expect.any(Number), memory: 100 << 20, gpu: 0, gpuMemory: 0 },
    ]);
    expect(usage.replicas[0]?.cpu).toBeCloseTo(0.75, 6);
    await agent.stop();
    const sent = plane.usage.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(plane.usage).toHaveLength(sent);
  });

  it('sends no usage when USAGE_INTERVAL_MS is 0', async () => {
    const driver = new FakeDriver().addImage('busy:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane, undefined, 150, 100, { USAGE_INTERVAL_MS: '0' });
    plane.put(list(1, [assignment('r1', 'busy:1')]));
    await agent.start();
    await until('READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    await new Promise((r) => setTimeout(r, 250));
    expect(plane.usage).toEqual([]);
  });

  it('scrapes its own replicas on their container address, NOT_FOUND for others, until stopped', async () => {
    const driver = new FakeDriver().addImage('metrics:1', { address: '127.0.0.1' }).addImage('web:1');
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    plane.put(
      list(1, [assignment('r1', 'metrics:1'), assignment('r2', 'web:1'), assignment('r3', 'metrics:1')]),
    );
    await agent.start();
    await until('READY', () =>
      ['r1', 'r2', 'r3'].every((id) => plane.of(id).some((r) => r.phase === 'READY')),
    );

    expect(
      await plane.scrape(NODE, { replicaId: 'r1', port, path: '/metrics?x=1', timeoutMs: 1000 }),
    ).toEqual({
      status: 200,
      contentType: 'text/plain',
      body: 'queue_depth 7\n# path /metrics?x=1\n',
    });
    expect(await scrapeFailure(plane, 'r-elsewhere')).toEqual([
      'NOT_FOUND',
      `replica r-elsewhere does not run on node ${NODE}`,
    ]);
    expect(await scrapeFailure(plane, 'r2')).toEqual([
      'UNAVAILABLE',
      'replica r2 has no address on its container network',
    ]);
    const [r1] = driver.all().filter((c) => c.spec.labels['gantry.replica'] === 'r1');
    driver.crash(r1?.id ?? '');
    expect(await scrapeFailure(plane, 'r1')).toEqual([
      'UNAVAILABLE',
      expect.stringMatching(/^replica r1 is not running/),
    ]);

    // A scrape under way when the agent stops is answered at once, not left to its timeout.
    const slow = plane
      .scrape(NODE, { replicaId: 'r3', port, path: '/slow', timeoutMs: 30_000 })
      .catch((e: unknown) => (e instanceof GantryError ? [e.code, e.message] : e));
    await new Promise((r) => setTimeout(r, 100));
    const stopped = Date.now();
    await agent.stop();
    expect(Date.now() - stopped).toBeLessThan(2000);
    expect(await slow).toEqual([
      'UNAVAILABLE',
      `replica r3: GET http://127.0.0.1:${port}/slow: the agent of node ${NODE} is stopping`,
    ]);
    expect(await scrapeFailure(plane, 'r2')).toEqual(new Error(`no one serves scrapes for ${NODE}`));
  });
});

describe('NodeAgent pulling from private registries', () => {
  const PRIVATE = 'registry.example.com/team/model:1';
  const SECRET = 's3cret-Pa55';
  const stored = (over: Partial<NonNullable<RegistryAuthResult['auth']>> = {}) => ({
    url: 'registry.example.com/team',
    serverAddress: 'registry.example.com',
    username: 'ci',
    password: SECRET,
    ...over,
  });
  /** Everything the agent logged, to check that no password ever appears in it. */
  const logged: string[] = [];
  const capture = (...args: unknown[]): void => {
    logged.push(args.map(String).join(' '));
  };
  beforeAll(() =>
    Logger.overrideLogger({ log: capture, warn: capture, error: capture, debug: capture, verbose: capture }),
  );
  afterEach(() => {
    logged.length = 0;
  });
  // Restores Nest's default logger for any suite that runs after this one in the same worker.
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  const failedOf = (plane: MemoryPlane, replicaId: string) =>
    until(`${replicaId} FAILED`, () => plane.of(replicaId).find((r) => r.phase === 'FAILED'));
  const noSecretLeaked = (plane: MemoryPlane): void => {
    expect(JSON.stringify(plane.reports)).not.toContain(SECRET);
    expect(logged.join('\n')).not.toContain(SECRET);
  };

  it('asks for the credentials of images it pulls (not of local ones) and pulls with those it gets', async () => {
    const driver = new FakeDriver()
      .addImage('web:1')
      .allowPull('public:1')
      .allowPull(PRIVATE)
      .requireAuth(PRIVATE, { username: 'ci', password: SECRET });
    const plane = new MemoryPlane();
    plane.answerAuth = (q) => Promise.resolve(q.image === PRIVATE ? stored() : undefined);
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', PRIVATE), assignment('r2', 'public:1'), assignment('r3', 'web:1')]));
    await until('all READY', () =>
      ['r1', 'r2', 'r3'].every((id) => plane.of(id).some((r) => r.phase === 'READY')),
    );
    expect(plane.of('r1').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
    expect([...plane.authQueries].sort((a, b) => a.image.localeCompare(b.image))).toEqual([
      { projectId: 'p1', image: 'public:1' },
      { projectId: 'p1', image: PRIVATE },
    ]);
    const auth = Object.fromEntries(driver.pulls.map((ref, i) => [ref, driver.pullAuth[i]]));
    expect(auth).toEqual({
      [PRIVATE]: { serverAddress: 'registry.example.com', username: 'ci', password: SECRET },
      'public:1': undefined,
    });
    expect(logged.join('\n')).toContain(
      `pulling "${PRIVATE}" with the credentials of registry registry.example.com/team (user ci)`,
    );
    noSecretLeaked(plane);
  });

  it('fails a private image whose registry has no stored credentials, saying how to add them', async () => {
    const driver = new FakeDriver()
      .allowPull(PRIVATE)
      .requireAuth(PRIVATE, { username: 'ci', password: SECRET });
    const plane = new MemoryPlane();
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', PRIVATE)]));
    const failed = await failedOf(plane, 'r1');
    expect(plane.of('r1').map((r) => r.phase)).toEqual(['PULLING', 'FAILED']);
    expect(failed.reason).toBe('JOB_IMAGE_PULL');
    expect(failed.message).toBe(
      `image "${PRIVATE}" could not be pulled: registry registry.example.com needs credentials: ` +
        'add them with gantry registry add registry.example.com (or POST /v1/registry); ' +
        `the engine said: Head "https://${PRIVATE}": no basic auth credentials`,
    );
    expect(driver.pullAuth).toEqual([undefined]);
    expect(driver.all()).toEqual([]);
  });

  it('fails a private image whose stored credentials the registry refuses, naming them', async () => {
    const driver = new FakeDriver()
      .allowPull(PRIVATE)
      .requireAuth(PRIVATE, { username: 'ci', password: 'the-right-one' });
    const plane = new MemoryPlane();
    plane.answerAuth = () => Promise.resolve(stored());
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', PRIVATE)]));
    const failed = await failedOf(plane, 'r1');
    expect(failed.reason).toBe('JOB_IMAGE_PULL');
    expect(failed.message).toMatch(
      new RegExp(
        `^image "${PRIVATE}" could not be pulled: registry registry\\.example\\.com refused the credentials of ` +
          'registry registry\\.example\\.com/team \\(user ci\\): ',
      ),
    );
    expect(failed.message).toContain('gantry registry update <registry-id> (or PUT /v1/registry/{id})');
    expect(failed.message).toContain('the engine said: unauthorized: authentication required');
    expect(driver.pullAuth).toEqual([
      { serverAddress: 'registry.example.com', username: 'ci', password: SECRET },
    ]);
    noSecretLeaked(plane);
  });

  it('pulls without credentials when the lookup fails: public images run, the failures of others say why', async () => {
    const driver = new FakeDriver()
      .allowPull('public:1')
      .allowPull(PRIVATE)
      .requireAuth(PRIVATE, { username: 'ci', password: SECRET });
    const plane = new MemoryPlane();
    plane.answerAuth = () => Promise.reject(new GantryError('UNAVAILABLE', 'api-gateway is not available'));
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(
      list(1, [assignment('r1', 'public:1'), assignment('r2', PRIVATE), assignment('r3', 'gone/missing:1')]),
    );
    await until('r1 READY', () => plane.of('r1').find((r) => r.phase === 'READY'));
    const [needs, missing] = await Promise.all([failedOf(plane, 'r2'), failedOf(plane, 'r3')]);
    expect(needs.message).toMatch(
      new RegExp(
        `^image "${PRIVATE}" could not be pulled: registry registry\\.example\\.com needs credentials, ` +
          'and those stored for it could not be looked up \\(api-gateway is not available\\): retry later; ' +
          'if none are stored, add them with gantry registry add registry\\.example\\.com',
      ),
    );
    expect(missing.message).toBe(
      'image "gone/missing:1" does not exist locally and could not be pulled: manifest for gone/missing:1 not ' +
        'found: manifest unknown (it was pulled without credentials: those of registry docker.io could not be ' +
        'looked up: api-gateway is not available)',
    );
    expect(driver.pullAuth).toEqual([undefined, undefined, undefined]);
    expect(logged.join('\n')).toContain(
      `the registry credentials for image "${PRIVATE}" could not be looked up (api-gateway is not available); ` +
        'pulling it without credentials',
    );
  });

  it('never sends credentials that the answer gives for another registry', async () => {
    const driver = new FakeDriver()
      .allowPull(PRIVATE)
      .requireAuth(PRIVATE, { username: 'ci', password: SECRET });
    const plane = new MemoryPlane();
    plane.answerAuth = () =>
      Promise.resolve(stored({ url: 'other.example.com', serverAddress: 'other.example.com' }));
    const agent = agentOn(driver, plane);
    await agent.start();
    plane.put(list(1, [assignment('r1', PRIVATE)]));
    const failed = await failedOf(plane, 'r1');
    expect(driver.pullAuth).toEqual([undefined]);
    expect(failed.message).toContain(
      'could not be looked up (the answer holds credentials for registry other.example.com, not for ' +
        'registry.example.com where the image comes from)',
    );
    noSecretLeaked(plane);
  });

  describe('a private image present on the node', () => {
    const A = { serverAddress: 'registry.example.com', username: 'ci-a', password: SECRET };
    const B = { serverAddress: 'registry.example.com', username: 'ci-b', password: 'b-Pa55' };
    const storedFor = {
      pA: stored({ username: 'ci-a' }),
      pB: stored({ url: 'registry.example.com/b', username: 'ci-b', password: 'b-Pa55' }),
    };
    const of = (replicaId: string, projectId: string, image = PRIVATE) =>
      assignment(replicaId, image, { projectId });
    const readyOf = (plane: MemoryPlane, replicaId: string) =>
      until(`${replicaId} READY`, () => plane.of(replicaId).find((r) => r.phase === 'READY'));
    const containerOf = (driver: FakeDriver, replicaId: string) =>
      driver.all().find((c) => c.spec.name === `gantry-unit-${replicaId}`);
    const NEEDS_CREDENTIALS =
      `image "${PRIVATE}" could not be pulled: registry registry.example.com needs credentials: ` +
      'add them with gantry registry add registry.example.com (or POST /v1/registry); ' +
      `the engine said: Head "https://${PRIVATE}": no basic auth credentials`;
    /** A node where project pA pulled PRIVATE with its credentials (replica a1 runs it); pB has none yet. */
    async function pulledByA(checkpoint = Checkpoint.inMemory(), image = PRIVATE) {
      const driver = new FakeDriver()
        .addImage('web:1')
        .allowPull(image)
        .requireAuth(image, A)
        .requireAuth(image, B);
      const plane = new MemoryPlane();
      const credentials: Partial<Record<string, NonNullable<RegistryAuthResult['auth']>>> = {
        pA: storedFor.pA,
      };
      plane.answerAuth = (q) => Promise.resolve(credentials[q.projectId]);
      const agent = agentOn(driver, plane, checkpoint);
      await agent.start();
      plane.put(list(1, [of('a1', 'pA', image)]));
      await readyOf(plane, 'a1');
      expect(driver.pullAuth).toEqual([A]);
      return { driver, plane, agent, credentials };
    }

    it("is pulled again with the asking project's credentials: without any the replica fails and never starts", async () => {
      const { driver, plane, credentials } = await pulledByA();
      plane.put(list(2, [of('a1', 'pA'), of('b1', 'pB')]));
      const failed = await failedOf(plane, 'b1');
      expect(plane.of('b1').map((r) => r.phase)).toEqual(['PULLING', 'FAILED']);
      expect(failed).toMatchObject({ reason: 'JOB_IMAGE_PULL', message: NEEDS_CREDENTIALS });
      expect(plane.authQueries.at(-1)).toEqual({ projectId: 'pB', image: PRIVATE });
      expect(driver.pulls).toEqual([PRIVATE, PRIVATE]);
      expect(driver.pullAuth).toEqual([A, undefined]);
      expect(containerOf(driver, 'b1')).toBeUndefined();
      await new Promise((r) => setTimeout(r, 200));
      expect(plane.of('b1').map((r) => r.phase)).toEqual(['PULLING', 'FAILED']); // stays failed
      expect(containerOf(driver, 'b1')).toBeUndefined();

      // Once pB has credentials of its own that the registry accepts, its replicas run.
      credentials.pB = storedFor.pB;
      plane.put(list(3, [of('a1', 'pA'), of('b2', 'pB')]));
      await readyOf(plane, 'b2');
      expect(plane.of('b2').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
      expect(driver.pullAuth.at(-1)).toEqual(B);

      // And pA's next replica is checked again, with pA's credentials.
      plane.put(list(4, [of('a1', 'pA'), of('b2', 'pB'), of('a2', 'pA')]));
      await readyOf(plane, 'a2');
      expect(plane.of('a2').map((r) => r.phase)).toEqual(['PULLING', 'STARTING', 'READY']);
      expect(driver.pullAuth).toEqual([A, undefined, B, A]);
      expect(logged.join('\n')).toContain(
        `replica b1: pulling "${PRIVATE}" (present, pulled from registry registry.example.com with credentials) ` +
          'again without credentials: project pB has none for it',
      );
      noSecretLeaked(plane);
      expect(JSON.stringify(plane.reports)).not.toContain('b-Pa55');
    });

    it('is checked with the registry also when named by digest, which the engine would answer from its store', async () => {
      const DIGEST = 'registry.example.com/team/model@sha256:0123abcd';
      const { driver, plane } = await pulledByA(Checkpoint.inMemory(), DIGEST);
      plane.put(list(2, [of('a1', 'pA', DIGEST), of('b1', 'pB', DIGEST)]));
      const failed = await failedOf(plane, 'b1');
      expect(failed.message).toBe(
        `image "${DIGEST}" could not be pulled: registry registry.example.com needs credentials: ` +
          'add them with gantry registry add registry.example.com (or POST /v1/registry); ' +
          `the engine said: Head "https://${DIGEST}": no basic auth credentials`,
      );
      expect(driver.pullAuth).toEqual([A, undefined]);
      expect(containerOf(driver, 'b1')).toBeUndefined();
    });

    it('fails the replica without pulling or starting it when the credentials cannot be looked up', async () => {
      const { driver, plane } = await pulledByA();
      plane.answerAuth = () => Promise.reject(new GantryError('UNAVAILABLE', 'api-gateway is not available'));
      plane.put(list(2, [of('a1', 'pA'), of('a2', 'pA')]));
      const failed = await failedOf(plane, 'a2');
      expect(plane.of('a2').map((r) => r.phase)).toEqual(['PULLING', 'FAILED']);
      expect(failed).toMatchObject({
        reason: 'JOB_IMAGE_PULL',
        message:
          `image "${PRIVATE}" is private (it was pulled from registry registry.example.com with credentials): ` +
          "it runs only once pulled again with the project's credentials, and those could not be looked up " +
          '(api-gateway is not available): retry later',
      });
      expect(driver.pulls).toEqual([PRIVATE]);
      expect(containerOf(driver, 'a2')).toBeUndefined();
    });

    it('starts a public or locally built image as it is, without any lookup or pull', async () => {
      const { driver, plane } = await pulledByA();
      const queries = plane.authQueries.length;
      plane.put(list(2, [of('a1', 'pA'), of('b1', 'pB', 'web:1')]));
      await readyOf(plane, 'b1');
      expect(plane.of('b1').map((r) => r.phase)).toEqual(['STARTING', 'READY']);
      expect(plane.authQueries).toHaveLength(queries);
      expect(driver.pulls).toEqual([PRIVATE]);
    });

    it('remembers it across a restart of the agent, through the checkpoint', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-node-agent-checkpoint-'));
      try {
        const path = join(dir, 'checkpoint.json');
        const { driver, plane, agent } = await pulledByA(await Checkpoint.load(path));
        await agent.stop();

        const second = agentOn(driver, plane, await Checkpoint.load(path));
        await second.start();
        plane.put(list(2, [of('a1', 'pA'), of('b1', 'pB')]));
        const failed = await failedOf(plane, 'b1');
        expect(failed.message).toBe(NEEDS_CREDENTIALS);
        expect(driver.pullAuth).toEqual([A, undefined]);
        expect(containerOf(driver, 'b1')).toBeUndefined();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
