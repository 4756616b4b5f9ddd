import { execFile } from 'node:child_process';

import type { NodeUsage, ReplicaPhase, ReplicaUsage } from '@gantry/contracts';
import { Logger } from '@nestjs/common';

import type { ContainerDriver } from '../driver/driver.js';
import type { GpuMode } from '../model/container-spec.js';
import {
  type GpuReading,
  NVIDIA_SMI_USAGE_ARGS,
  parseGpuUsage,
  replicaGpuUsage,
} from '../model/gpu-usage.js';
import { type CounterSample, cpuCores, memoryInUse, usageSignals } from '../model/usage.js';
import type { ReplicaRuntime } from './executor.js';
import { agentMetrics } from './metrics.js';

export interface UsageSamplerDeps {
  nodeId: string;
  driver: ContainerDriver;
  /** The replicas the agent runs (read only). */
  replicas: ReadonlyMap<string, ReplicaRuntime>;
  /** Sends one `node.usage.v1`; may lose it, never throws. */
  publish: (usage: NodeUsage) => void;
  intervalMs: number;
  gpuMode: GpuMode;
  nvidiaSmi: string;
}

/** Phases in which a replica's container may be running. */
const SAMPLED: ReadonlySet<ReplicaPhase> = new Set(['STARTING', 'READY', 'NOT_READY']);
/**
 * Engine calls at once. Docker answers a one-shot stats call with its collector's next reading (it
 * reads every container once a second), so the calls of a pass wait together: a pass of N replicas
 * takes about ⌈N / CONCURRENCY⌉ seconds.
 */
const CONCURRENCY = 64;
const STATS_TIMEOUT_MS = 5000;
const NVIDIA_SMI_TIMEOUT_MS = 5000;

interface Target {
  replicaId: string;
  appId: string;
  containerId: string;
  /** The container's run: a restart starts its counters over, so readings of two runs never meet. */
  run: string;
  gpus: string[];
}

/** Calls `fn` on every item, at most `limit` at once; results in the items' order. */
async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Every interval, reads each running replica's counters and publishes what it used since the last
 * reading (`node.usage.v1`): CPUs from the growth of its CPU time over the time between the two
 * readings, memory as `docker stats` counts it, and on real GPUs what one nvidia-smi call says of
 * its GPUs. A replica's first reading gives nothing (there is nothing to compare it with); a
 * container gone meanwhile is left out.
 */
export class UsageSampler {
  private readonly log = new Logger('UsageSampler');
  /** The last reading of each container run. */
  private readonly previous = new Map<string, CounterSample>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private lastPassAt: number | undefined;
  private gpuFailing = false;

  constructor(private readonly d: UsageSamplerDeps) {}

  start(): void {
    this.schedule(0);
  }

  /** Stops sampling; waits for a pass under way (its engine calls are aborted). */
  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass: the signals to send (none without figures). */
  async sample(): Promise<NodeUsage[]> {
    const startedAt = Date.now();
    const targets: Target[] = [];
    for (const [replicaId, rt] of this.d.replicas)
      if (rt.containerId && SAMPLED.has(rt.phase))
        targets.push({
          replicaId,
          appId: rt.assignment.appId,
          containerId: rt.containerId,
          run: `${rt.containerId}@${rt.startedAt ?? 0}`,
          gpus: rt.assignment.gpus.map((g) => g.uuid),
        });
    const readings =
      this.d.gpuMode === 'real' && targets.some((t) => t.gpus.length) ? await this.readGpus() : undefined;
    const seen = new Set<string>();
    const figures = await mapBounded(targets, CONCURRENCY, (t) => this.usageOf(t, seen, readings));
    for (const run of this.previous.keys()) if (!seen.has(run)) this.previous.delete(run);
    const intervalMs = startedAt - (this.lastPassAt ?? startedAt - this.d.intervalMs);
    this.lastPassAt = startedAt;
    return usageSignals(
      this.d.nodeId,
      new Date().toISOString(),
      intervalMs,
      figures.filter((f): f is ReplicaUsage => f !== undefined),
    );
  }

  private schedule(delayMs: number): void {
    if (this.abort.signal.aborted) return;
    this.timer = setTimeout(() => {
      const began = Date.now();
      this.pass = this.publishPass()
        .catch((error: unknown) => this.log.warn(`sampling usage: ${(error as Error).message}`))
        .finally(() => {
          this.pass = undefined;
          this.schedule(Math.max(0, this.d.intervalMs - (Date.now() - began)));
        });
    }, delayMs);
  }

  private async publishPass(): Promise<void> {
    const signals = await this.sample();
    if (this.abort.signal.aborted) return;
    for (const s of signals) this.d.publish(s);
  }

  private async usageOf(
    t: Target,
    seen: Set<string>,
    gpus: ReadonlyMap<string, GpuReading> | undefined,
  ): Promise<ReplicaUsage | undefined> {
    let stats;
    try {
      stats = await this.d.driver.stats(t.containerId, {
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(STATS_TIMEOUT_MS)]),
      });
    } catch (error) {
      // Keep the last reading: the next one measures over both intervals, which is still right.
      seen.add(t.run);
      if (!this.abort.signal.aborted) {
        agentMetrics.errors.inc({ node: this.d.nodeId, what: 'sampling usage' });
        this.log.debug(`replica ${t.replicaId}: ${(error as Error).message}`);
      }
      return undefined;
    }
    if (!stats) return undefined; // stopped or gone: its next run starts afresh
    seen.add(t.run);
    const current = { at: stats.readAt, cpuNs: stats.cpuNs };
    const cpu = cpuCores(this.previous.get(t.run), current);
    this.previous.set(t.run, current);
    if (cpu === undefined) return undefined;
    const gpu = !t.gpus.length
      ? {}
      : this.d.gpuMode === 'simulated'
        ? { gpu: 0, gpuMemory: 0 }
        : replicaGpuUsage(t.gpus, gpus ?? new Map());
    return {
      replicaId: t.replicaId,
      appId: t.appId,
      cpu,
      memory: memoryInUse(stats.memoryUsage, stats.memoryCounters),
      ...gpu,
    };
  }

  /** What nvidia-smi says of every GPU now; undefined when it fails (said once, until it works again). */
  private readGpus(): Promise<Map<string, GpuReading> | undefined> {
    return new Promise((resolve) => {
      execFile(
        this.d.nvidiaSmi,
        [...NVIDIA_SMI_USAGE_ARGS],
        { timeout: NVIDIA_SMI_TIMEOUT_MS, maxBuffer: 1024 * 1024, signal: this.abort.signal },
        (error, stdout) => {
          if (error) {
            if (!this.gpuFailing && !this.abort.signal.aborted)
              this.log.warn(`${this.d.nvidiaSmi} failed, GPU usage unknown: ${error.message}`);
            this.gpuFailing = true;
            return resolve(undefined);
          }
          this.gpuFailing = false;
          const { readings, skipped } = parseGpuUsage(stdout);
          for (const s of skipped) this.log.debug(`nvidia-smi row skipped: ${s}`);
          resolve(readings);
        },
      );
    });
  }
}
