import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';

import type { NodeHeartbeat } from '@gantry/contracts';
import { Logger } from '@nestjs/common';

import type { NodeAgentConfig } from '../config.js';
import type { ContainerDriver, Owner, RuntimeInfo } from '../driver/driver.js';
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from '../model/backoff.js';
import { type BatcherOptions, DEFAULT_BATCHING } from '../model/batcher.js';
import type { NodeFacts } from '../model/container-spec.js';
import { DEFAULT_PROBE_TIMING, type ProbeTiming } from '../model/probe-tracker.js';
import { Checkpoint } from './checkpoint.js';
import type { AssignmentWatch, ControlPlane } from './control-plane.js';
import { Controller } from './controller.js';
import { Executor, type ReplicaRuntime } from './executor.js';
import { discoverGpus, type GpuInventory } from './gpu-discovery.js';
import { LogShipper } from './log-shipper.js';
import { HttpProber, type Prober } from './prober.js';
import { ReplicaScraper } from './replica-scraper.js';
import { Reporter } from './reporter.js';
import { UsageSampler } from './usage-sampler.js';

export const AGENT_VERSION = '0.1.0';
const ASSIGNMENT_REFRESH_MS = 30_000;

export type AgentConfig = Pick<
  NodeAgentConfig,
  | 'GANTRY_NAMESPACE'
  | 'NODE_ID'
  | 'NODE_ADDRESS'
  | 'NODE_CPUS'
  | 'NODE_MEMORY'
  | 'NODE_LABELS'
  | 'SIMULATED_GPUS'
  | 'NVIDIA_SMI'
  | 'HEARTBEAT_INTERVAL_MS'
  | 'USAGE_INTERVAL_MS'
  | 'ORPHAN_GRACE_MS'
  | 'RESYNC_INTERVAL_MS'
  | 'IMAGE_PULL_TIMEOUT_MS'
  | 'STOP_GRACE_SECONDS'
  | 'STATE_DIR'
>;

export interface NodeAgentOptions {
  config: AgentConfig;
  plane: ControlPlane;
  driver: ContainerDriver;
  /** Default: HTTP probes. */
  prober?: Prober;
  /** Default: loaded from STATE_DIR. */
  checkpoint?: Checkpoint;
  /** Default: from SIMULATED_GPUS or nvidia-smi. */
  gpus?: GpuInventory;
  policy?: RestartPolicy;
  probeTiming?: ProbeTiming;
  batching?: BatcherOptions;
}

/**
 * One node agent: converges the node's containers on its assignment list, reports each replica's
 * phase, ships logs, sends heartbeats and its replicas' usage, and answers scrapes of its replicas.
 * Containers outlive it: `stop()` leaves them running, and a new agent on the same node adopts them.
 */
export class NodeAgent {
  private readonly log = new Logger('NodeAgent');
  private readonly owner: Owner;
  private readonly replicas = new Map<string, ReplicaRuntime>();
  private checkpoint!: Checkpoint;
  private gpus: GpuInventory = { gpus: [], mode: 'none' };
  private runtimeInfo: RuntimeInfo | undefined;
  private controller!: Controller;
  private executor!: Executor;
  private reporter!: Reporter;
  private shipper!: LogShipper;
  private sampler: UsageSampler | undefined;
  private scraper: ReplicaScraper | undefined;
  private stopServingScrapes: (() => void) | undefined;
  private watch: AssignmentWatch | undefined;
  private watchReady = false;
  private readonly events = new AbortController();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(private readonly o: NodeAgentOptions) {
    this.owner = { namespace: o.config.GANTRY_NAMESPACE, nodeId: o.config.NODE_ID };
  }

  get nodeId(): string {
    return this.owner.nodeId;
  }

  async start(): Promise<void> {
    const c = this.o.config;
    this.checkpoint =
      this.o.checkpoint ??
      (await Checkpoint.load(join(c.STATE_DIR, `${c.GANTRY_NAMESPACE}--${c.NODE_ID}.json`)));
    this.gpus =
      this.o.gpus ??
      (await discoverGpus({
        nodeId: c.NODE_ID,
        nvidiaSmi: c.NVIDIA_SMI,
        ...(c.SIMULATED_GPUS ? { simulated: c.SIMULATED_GPUS } : {}),
      }));
    await this.engineInfo();
    this.reporter = new Reporter(c.NODE_ID, this.o.plane);
    this.shipper = new LogShipper(
      c.NODE_ID,
      this.o.driver,
      this.o.plane,
      this.checkpoint,
      this.o.batching ?? DEFAULT_BATCHING,
    );
    this.executor = new Executor({
      nodeId: c.NODE_ID,
      driver: this.o.driver,
      plane: this.o.plane,
      reporter: this.reporter,
      shipper: this.shipper,
      checkpoint: this.checkpoint,
      prober: this.o.prober ?? new HttpProber(),
      probeTiming: this.o.probeTiming ?? DEFAULT_PROBE_TIMING,
      policy: this.o.policy ?? DEFAULT_RESTART_POLICY,
      pullTimeoutMs: c.IMAGE_PULL_TIMEOUT_MS,
      stopGraceSeconds: c.STOP_GRACE_SECONDS,
      replicas: this.replicas,
      facts: () => this.facts(),
      generation: () => this.controller.appliedGeneration,
      wake: () => this.controller.wake(),
    });
    this.controller = new Controller({
      owner: this.owner,
      driver: this.o.driver,
      executor: this.executor,
      replicas: this.replicas,
      checkpoint: this.checkpoint,
      orphanGraceMs: c.ORPHAN_GRACE_MS,
      resyncIntervalMs: c.RESYNC_INTERVAL_MS,
    });
    this.o.driver.watchEvents(this.owner, (e) => this.controller.onRuntimeEvent(e), this.events.signal);
    this.controller.start();
    this.watch = await this.o.plane.watchAssignments(
      c.NODE_ID,
      (value) => this.controller.applyAssignments(value),
      (error) => this.log.error(`invalid assignment list for ${c.NODE_ID}: ${(error as Error).message}`),
    );
    void this.watch.ready.then(() => {
      this.watchReady = true;
      this.controller.assumeEmptyIfUnknown();
    });
    this.refreshTimer = setInterval(() => void this.refreshAssignments(), ASSIGNMENT_REFRESH_MS);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), c.HEARTBEAT_INTERVAL_MS);
    this.heartbeat();
    if (c.USAGE_INTERVAL_MS > 0) {
      this.sampler = new UsageSampler({
        nodeId: c.NODE_ID,
        driver: this.o.driver,
        replicas: this.replicas,
        publish: (usage) => this.o.plane.publishUsage(usage),
        intervalMs: c.USAGE_INTERVAL_MS,
        gpuMode: this.gpus.mode,
        nvidiaSmi: c.NVIDIA_SMI,
      });
      this.sampler.start();
    }
    const scraper = new ReplicaScraper({ nodeId: c.NODE_ID, driver: this.o.driver, replicas: this.replicas });
    this.scraper = scraper;
    this.stopServingScrapes = this.o.plane.serveScrapes(c.NODE_ID, (q) => scraper.scrape(q));
    this.started = true;
    const gpuText = this.gpus.gpus.length ? `${this.gpus.gpus.length} ${this.gpus.mode} GPUs` : 'no GPUs';
    this.log.log(
      `node ${c.NODE_ID} on ${c.NODE_ADDRESS}: ${this.runtimeInfo?.version ?? 'engine not answering'}, ${gpuText}`,
    );
  }

  /** Stops converging and reporting; containers keep running. Flushes logs, reports and the checkpoint. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.refreshTimer);
    // No new scrape reaches the agent; those under way are answered while NATS is still connected.
    this.stopServingScrapes?.();
    await Promise.all([this.scraper?.stop(), this.sampler?.stop()]);
    this.events.abort();
    this.watch?.stop();
    await this.controller.stop(5000);
    this.executor.stopProbes();
    await this.shipper.stopAll(3000);
    await this.reporter.drain(3000);
    this.reporter.stop();
    await this.checkpoint.flush();
  }

  /** For /readyz: NATS connected, the engine answering, the assignment watch caught up. */
  readiness(): {
    nats: () => boolean | string;
    docker: () => Promise<boolean | string>;
    assignments: () => boolean | string;
  } {
    return {
      nats: () => this.o.plane.connected() || 'not connected',
      docker: async () => (await this.o.driver.ping()) || 'Docker does not answer',
      assignments: () => (this.watchReady ? true : 'assignment watch not caught up'),
    };
  }

  /** The replicas and their phases (heartbeat, tests). */
  phases(): Array<{ replicaId: string; phase: string }> {
    return [...this.replicas.entries()].map(([replicaId, rt]) => ({ replicaId, phase: rt.phase }));
  }

  heartbeatPayload(): NodeHeartbeat {
    const c = this.o.config;
    const replicas = this.phases();
    const observed = this.controller.observed;
    if (observed)
      for (const replicaId of observed.replicaIds)
        if (!this.replicas.has(replicaId)) replicas.push({ replicaId, phase: 'PRESENT' });
    return {
      nodeId: c.NODE_ID,
      address: c.NODE_ADDRESS,
      at: new Date().toISOString(),
      agentVersion: AGENT_VERSION,
      capacity: {
        cpus: c.NODE_CPUS ?? this.runtimeInfo?.cpus ?? availableParallelism(),
        memory: c.NODE_MEMORY ?? this.runtimeInfo?.memory ?? totalmem(),
        gpus: this.gpus.gpus,
      },
      simulatedGpus: this.gpus.mode === 'simulated',
      labels: c.NODE_LABELS,
      appliedGeneration: this.controller.appliedGeneration,
      // Past the contract's bound the list would not be whole: then it says nothing about what is gone.
      replicas: replicas.slice(0, 10_000),
      ...(observed && replicas.length <= 10_000 ? { observedGeneration: observed.generation } : {}),
    };
  }

  private heartbeat(): void {
    try {
      this.o.plane.heartbeat(this.heartbeatPayload());
    } catch (error) {
      this.log.warn(`heartbeat: ${(error as Error).message}`);
    }
    if (!this.runtimeInfo) void this.engineInfo();
  }

  /** Safety net under the watch: re-reads the assignment list now and then. */
  private async refreshAssignments(): Promise<void> {
    try {
      const value = await this.o.plane.getAssignments(this.owner.nodeId);
      if (value && value.generation > this.controller.appliedGeneration)
        this.controller.applyAssignments(value);
    } catch (error) {
      this.log.debug(`re-reading assignments: ${(error as Error).message}`);
    }
  }

  private async engineInfo(): Promise<RuntimeInfo | undefined> {
    try {
      this.runtimeInfo ??= await this.o.driver.info();
    } catch (error) {
      this.log.warn(`container engine: ${(error as Error).message}`);
    }
    return this.runtimeInfo;
  }

  private async facts(): Promise<NodeFacts> {
    const info = await this.engineInfo();
    return {
      owner: this.owner,
      address: this.o.config.NODE_ADDRESS,
      realCpus: info?.cpus ?? availableParallelism(),
      gpuMode: this.gpus.mode,
    };
  }
}
