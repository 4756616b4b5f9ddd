import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NodeUsageSchema, type ReplicaAssignment } from '@gantry/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsoleLogger, Logger } from '@nestjs/common';

import { FakeDriver } from '../driver/fake/fake-driver.js';
import { containerSpecFor, type GpuMode } from '../model/container-spec.js';
import { NVIDIA_SMI_USAGE_ARGS } from '../model/gpu-usage.js';
import type { ReplicaRuntime } from './executor.js';
import { UsageSampler } from './usage-sampler.js';

const MiB = 1024 ** 2;
/** Two of the recorded H100s: 42 % and 38 % busy, 20480 MiB each. */
const H100_4 = 'GPU-6b8d0f2a-3c5e-7a9b-1d3f-5b7d9f1a3c5e';
const H100_5 = 'GPU-9c1e3a5b-7d9f-1b3d-5f7a-9c1e3b5d7f9a';
const owner = { namespace: 'unit', nodeId: 'n1' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const assignment = (replicaId: string, image: string, gpus: string[] = []): ReplicaAssignment => ({
  replicaId,
  appId: `app-${replicaId}`,
  projectId: 'p1',
  image,
  envVars: [],
  ports: [8080],
  probe: { path: '/', port: 8080 },
  resources: { cpu: 2, memory: 256 * MiB, pids: 64 },
  gpus: gpus.map((uuid, index) => ({ index, uuid })),
});

/** Runs the replica's container on the fake engine and records it as the agent would. */
async function run(
  driver: FakeDriver,
  replicas: Map<string, ReplicaRuntime>,
  a: ReplicaAssignment,
): Promise<ReplicaRuntime> {
  const id = await driver.createContainer(
    containerSpecFor(a, 1, { owner, address: '127.0.0.1', realCpus: 8, gpuMode: 'simulated' }),
  );
  await driver.startContainer(id);
  const rt: ReplicaRuntime = {
    assignment: a,
    phase: 'READY',
    containerId: id,
    startedAt: Date.now(),
    restarts: 0,
    streak: 0,
    everReady: true,
    createFailures: 0,
  };
  replicas.set(a.replicaId, rt);
  return rt;
}

const samplers: UsageSampler[] = [];
function samplerOn(
  driver: FakeDriver,
  replicas: Map<string, ReplicaRuntime>,
  gpuMode: GpuMode = 'none',
  nvidiaSmi = '/nonexistent/nvidia-smi',
) {
  const published: unknown[] = [];
  const sampler = new UsageSampler({
    nodeId: 'n1',
    driver,
    replicas,
    publish: (u) => published.push(u),
    intervalMs: 2000,
    gpuMode,
    nvidiaSmi,
  });
  samplers.push(sampler);
  return { sampler, published };
}

/**
 * A stand-in for nvidia-smi on a host with 8 H100s: prints the recorded answer to the usage query,
 * and fails when asked anything else.
 */
let fakeSmiDir: string;
let fakeSmi: string;
const logged: string[] = [];
beforeAll(async () => {
  fakeSmiDir = await mkdtemp(join(tmpdir(), 'gantry-nvidia-smi-'));
  fakeSmi = join(fakeSmiDir, 'nvidia-smi');
  const fixture = fileURLToPath(new URL('../model/fixtures/nvidia-smi-usage-8xh100.csv', import.meta.url));
  await writeFile(
    fakeSmi,
    `#!/bin/sh\n[ "$*" = "${NVIDIA_SMI_USAGE_ARGS.join(' ')}" ] || exit 9\necho >> '${fakeSmiDir}/calls'\nexec cat '${fixture}'\n`,
  );
  await chmod(fakeSmi, 0o755);
  const capture = (m: unknown) => void logged.push(String(m));
  Logger.overrideLogger({ log: capture, warn: capture, error: capture, debug: capture, verbose: capture });
});
afterAll(async () => {
  Logger.overrideLogger(new ConsoleLogger());
  await rm(fakeSmiDir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(samplers.splice(0).map((s) => s.stop()));
});

describe('UsageSampler', () => {
  it('gives nothing at a first reading, then each replica’s CPUs and memory since the last one', async () => {
    const driver = new FakeDriver()
      .addImage('busy:1', { usage: { cpus: 1.5, memory: 200 * MiB } })
      .addImage('idle:1', { usage: { cpus: 0, memory: 3 * MiB } });
    const replicas = new Map<string, ReplicaRuntime>();
    await run(driver, replicas, assignment('r-busy', 'busy:1'));
    await run(driver, replicas, assignment('r-idle', 'idle:1'));
    const { sampler } = samplerOn(driver, replicas);

    expect(await sampler.sample()).toEqual([]);
    await sleep(30);
    const [signal, ...more] = await sampler.sample();
    expect(more).toEqual([]);
    expect(NodeUsageSchema.parse(signal)).toEqual(signal);
    expect(signal?.nodeId).toBe('n1');
    expect(signal?.intervalMs).toBeGreaterThanOrEqual(30);
    const byId = Object.fromEntries((signal?.replicas ?? []).map((r) => [r.replicaId, r]));
    expect(byId['r-busy']).toEqual({
      replicaId: 'r-busy',
      appId: 'app-r-busy',
      cpu: expect.any(Number),
      memory: 200 * MiB,
    });
    expect(byId['r-busy']?.cpu).toBeCloseTo(1.5, 6);
    expect(byId['r-idle']).toEqual({ replicaId: 'r-idle', appId: 'app-r-idle', cpu: 0, memory: 3 * MiB });
  });

  it('leaves out a container gone or stopped meanwhile, and starts afresh on its next run', async () => {
    const driver = new FakeDriver().addImage('busy:1', { usage: { cpus: 1, memory: MiB } });
    const replicas = new Map<string, ReplicaRuntime>();
    const gone = await run(driver, replicas, assignment('r-gone', 'busy:1'));
    const restarted = await run(driver, replicas, assignment('r-restarted', 'busy:1'));
    const { sampler } = samplerOn(driver, replicas);
    await sampler.sample();
    await driver.removeContainer(gone.containerId ?? '');
    await driver.stopContainer(restarted.containerId ?? '', 0);
    expect(await sampler.sample()).toEqual([]);

    // Started again: its counter starts over, and its first reading of the new run gives nothing.
    await driver.startContainer(restarted.containerId ?? '');
    restarted.startedAt = Date.now();
    expect(await sampler.sample()).toEqual([]);
    await sleep(20);
    const [signal] = await sampler.sample();
    expect(signal?.replicas.map((r) => r.replicaId)).toEqual(['r-restarted']);
    expect(signal?.replicas[0]?.cpu).toBeCloseTo(1, 6);
  });

  it('samples only replicas whose container may run, and survives an engine that fails', async () => {
    const driver = new FakeDriver().addImage('busy:1');
    const replicas = new Map<string, ReplicaRuntime>();
    const failed = await run(driver, replicas, assignment('r-failed', 'busy:1'));
    failed.phase = 'FAILED';
    await run(driver, replicas, assignment('r-ok', 'busy:1'));
    const { sampler } = samplerOn(driver, replicas);
    await sampler.sample();
    driver.available = false;
    expect(await sampler.sample()).toEqual([]);
    driver.available = true;
    await sleep(5); // the fake engine's clock is Date.now(): readings must be apart
    // The reading before the failure still counts: the figure covers both intervals.
    const [signal] = await sampler.sample();
    expect(signal?.replicas.map((r) => r.replicaId)).toEqual(['r-ok']);
  });

  it('reads real GPUs with one nvidia-smi call per pass, and says simulated ones are idle', async () => {
    const driver = new FakeDriver().addImage('gpu:1');
    const replicas = new Map<string, ReplicaRuntime>();
    await run(driver, replicas, assignment('r-gpu', 'gpu:1', [H100_4, H100_5]));
    await run(driver, replicas, assignment('r-cpu', 'gpu:1'));
    const real = samplerOn(driver, replicas, 'real', fakeSmi).sampler;
    const simulated = samplerOn(driver, replicas, 'simulated').sampler;
    const missing = samplerOn(driver, replicas, 'real').sampler;
    await Promise.all([real.sample(), simulated.sample(), missing.sample()]);
    await sleep(5);
    const [[hw], [sim], [none]] = await Promise.all([real.sample(), simulated.sample(), missing.sample()]);
    const gpuOf = (s: typeof sim, id: string) => {
      const r = s?.replicas.find((x) => x.replicaId === id);
      return r && { gpu: r.gpu, gpuMemory: r.gpuMemory };
    };
    expect(gpuOf(hw, 'r-gpu')).toEqual({ gpu: 40, gpuMemory: 2 * 20_480 * MiB });
    expect(await readFile(join(fakeSmiDir, 'calls'), 'utf8')).toBe('\n\n');
    expect(gpuOf(hw, 'r-cpu')).toEqual({ gpu: undefined, gpuMemory: undefined });
    expect(gpuOf(sim, 'r-gpu')).toEqual({ gpu: 0, gpuMemory: 0 });
    expect(gpuOf(sim, 'r-cpu')).toEqual({ gpu: undefined, gpuMemory: undefined });
    // nvidia-smi missing: the replica is still reported, its GPU use unknown, and that said once.
    expect(gpuOf(none, 'r-gpu')).toEqual({ gpu: undefined, gpuMemory: undefined });
    expect(none?.replicas.map((r) => r.replicaId).sort()).toEqual(['r-cpu', 'r-gpu']);
    expect(logged.filter((l) => l.includes('/nonexistent/nvidia-smi failed'))).toHaveLength(1);
  });

  it('publishes every interval once started, and nothing once stopped', async () => {
    const driver = new FakeDriver().addImage('busy:1');
    const replicas = new Map<string, ReplicaRuntime>();
    await run(driver, replicas, assignment('r1', 'busy:1'));
    const published: unknown[] = [];
    const sampler = new UsageSampler({
      nodeId: 'n1',
      driver,
      replicas,
      publish: (u) => published.push(u),
      intervalMs: 40,
      gpuMode: 'none',
      nvidiaSmi: 'nvidia-smi',
    });
    samplers.push(sampler);
    sampler.start();
    await sleep(220);
    await sampler.stop();
    const count = published.length;
    expect(count).toBeGreaterThanOrEqual(3);
    expect(count).toBeLessThanOrEqual(6);
    await sleep(100);
    expect(published).toHaveLength(count);
  });
});
