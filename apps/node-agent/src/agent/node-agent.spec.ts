import type {
  LogBatch,
  NodeAssignments,
  NodeHeartbeat,
  ReplicaAssignment,
  ReplicaReport,
} from '@gantry/contracts';
import { afterEach, describe, expect, it } from '@jest/globals';

import { NodeAgentConfigSchema } from '../config.js';
import type { ContainerSummary, Owner } from '../driver/driver.js';
import { FakeDriver } from '../driver/fake/fake-driver.js';
import { Checkpoint } from './checkpoint.js';
import type { AssignmentWatch, ControlPlane } from './control-plane.js';
import { NodeAgent } from './node-agent.js';

/** The control plane in memory: what the agent publishes, and an assignment list to change. */
class MemoryPlane implements ControlPlane {
  readonly reports: ReplicaReport[] = [];
  readonly batches: LogBatch[] = [];
  readonly heartbeats: NodeHeartbeat[] = [];
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
  heartbeat(hb: NodeHeartbeat): void {
    this.heartbeats.push(hb);
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
const assignment = (replicaId: string, image: string, over: Partial<ReplicaAssignment> = {}): ReplicaAssignment => ({
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
): NodeAgent {
  const agent = new NodeAgent({
    config: NodeAgentConfigSchema.parse({
      NODE_ID: NODE,
      GANTRY_NAMESPACE: 'unit',
      HEARTBEAT_INTERVAL_MS: '100',
      ORPHAN_GRACE_MS: String(orphanGraceMs),
      RESYNC_INTERVAL_MS: String(resyncIntervalMs),
      SIMULATED_GPUS: '2:a100',
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
    expect(c?.spec.env).toMatchObject({ GANTRY_APP_ID: 'app-r1', GANTRY_REPLICA_ID: 'r1', NVIDIA_VISIBLE_DEVICES: 'GPU-x' });
    await until('logs', () => plane.lines('r1').length === 2);
    expect(plane.lines('r1')).toEqual(['listening', 'warming up']);
    await until('a heartbeat with the replica', () =>
      plane.heartbeats.find((h) => h.replicas.some((r) => r.replicaId === 'r1' && r.phase === 'READY')),
    );
    const hb = plane.heartbeats.at(-1);
    expect(hb).toMatchObject({ nodeId: NODE, simulatedGpus: true, appliedGeneration: 1, capacity: { cpus: 8 } });
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
      /^image "gantry-test\/does-not-exist:1" does not exist locally and could not be pulled: pull access denied/,
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
            const lagging = c.state === 'exited' && d?.finishedAt !== undefined && Date.now() - d.finishedAt < 50;
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
    const restarting = await until('RESTARTING', () => plane.of('r1').find((r) => r.phase === 'RESTARTING'), 1000);
    expect(restarting).toMatchObject({ exitCode: 137, restarts: 1 });
  });

  it('adopts running containers after a restart of the agent and removes orphans after the grace period', async () => {
    const driver = new FakeDriver().addImage('web:1', { output: ['hello once'] });
    const plane = new MemoryPlane();
    const checkpoint = Checkpoint.inMemory();
    const first = agentOn(driver, plane, checkpoint);
    await first.start();
    plane.put(list(1, [assignment('r1', 'web:1'), assignment('r2', 'web:1')]));
    await until('both READY', () => ['r1', 'r2'].every((id) => plane.of(id).some((r) => r.phase === 'READY')));
    await until('logs', () => plane.lines('r1').length === 1);
    await first.stop();
    const before = driver.all().map((c) => c.id);

    // While the agent is down, r2 is moved elsewhere.
    plane.put(list(2, [assignment('r1', 'web:1')]));
    const second = agentOn(driver, plane, checkpoint, 300);
    const reportsBefore = plane.reports.length;
    await second.start();
    await until('r1 READY again', () => plane.reports.slice(reportsBefore).find((r) => r.replicaId === 'r1' && r.phase === 'READY'));
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
