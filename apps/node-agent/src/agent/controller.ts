import { type NodeAssignments, REPLICA_PHASES, type ReplicaAssignment } from '@gantry/contracts';
import { Logger } from '@nestjs/common';

import type { ContainerDriver, Owner, RuntimeEvent } from '../driver/driver.js';
import { observe } from '../model/ownership.js';
import { type Action, actionKey, judgeAssignments, planConvergence } from '../model/plan.js';
import type { Checkpoint } from './checkpoint.js';
import type { Executor, ReplicaRuntime } from './executor.js';
import { agentMetrics } from './metrics.js';

export interface ControllerDeps {
  owner: Owner;
  driver: ContainerDriver;
  executor: Executor;
  replicas: Map<string, ReplicaRuntime>;
  checkpoint: Checkpoint;
  orphanGraceMs: number;
  resyncIntervalMs: number;
}

/** How long a listing may keep showing a container running after the engine said it died. */
const LISTING_LAG_MS = 5000;
/** How soon to list again while the listing lags an engine event. */
const LISTING_RECHECK_MS = 100;

interface InFlight {
  kind: Action['kind'];
  abort: AbortController;
  done: Promise<void>;
}

/**
 * The convergence loop (a controller in the Kubernetes sense). Assignment changes, Docker events, due
 * timers and a periodic resync only wake it; each pass re-lists the node's containers, plans against
 * the desired assignments and starts the planned actions — at most one at a time per replica, in the
 * background, each waking the loop again when it ends. Passes never overlap.
 */
export class Controller {
  private readonly log = new Logger('Controller');
  private desired: ReplicaAssignment[] | undefined;
  private generation: number | undefined;
  private orphanSince = new Map<string, number>();
  private readonly inflight = new Map<string, InFlight>();
  private passing = false;
  private again = false;
  private stopped = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeTimerAt: number | undefined;
  private lastListError: string | undefined;
  /** Containers whose last engine event was their death, and when (ms). */
  private readonly died = new Map<string, number>();
  /** True once a pass listed the containers; false after a listing failed. */
  engineOk = false;
  /**
   * The last listing made with the assignments known: the generation it was made under and the
   * replicas that had a container then (see `NodeHeartbeat.observedGeneration`).
   */
  observed: { generation: number; replicaIds: ReadonlySet<string> } | undefined;

  constructor(private readonly d: ControllerDeps) {}

  /** Generation of the applied assignment list (0 before any). */
  get appliedGeneration(): number {
    return this.generation ?? 0;
  }

  /** True once an assignment list (possibly empty) is known. */
  get hasAssignments(): boolean {
    return this.desired !== undefined;
  }

  start(): void {
    this.resyncTimer = setInterval(() => this.wake(), this.d.resyncIntervalMs);
    this.wake();
  }

  /** Applies a new assignment list unless fencing rejects it. */
  applyAssignments(value: NodeAssignments | null): boolean {
    const verdict = judgeAssignments(this.d.owner.nodeId, this.generation, value);
    if (!verdict.accept) {
      this.log.warn(`ignoring an assignment list: ${verdict.why}`);
      return false;
    }
    const changed = verdict.generation !== this.generation || this.desired === undefined || value === null;
    if (value === null && this.desired?.length)
      this.log.warn('the assignment list of this node was deleted: stopping every replica');
    this.desired = verdict.replicas;
    this.generation = verdict.generation;
    if (changed)
      this.log.log(
        `applying assignment generation ${verdict.generation} (${verdict.replicas.length} replicas)`,
      );
    this.wake();
    return true;
  }

  /** The watch caught up and found no list for this node: it must run nothing (yet). */
  assumeEmptyIfUnknown(): void {
    if (this.desired === undefined) {
      this.desired = [];
      this.wake();
    }
  }

  /** The engine says something happened to one of the node's containers: converge now. */
  onRuntimeEvent(e: RuntimeEvent): void {
    if (e.type === 'die' || e.type === 'oom') this.died.set(e.containerId, Date.now());
    else if (e.type === 'start' || e.type === 'destroy') this.died.delete(e.containerId);
    this.wake();
  }

  /** Asks for a pass as soon as possible (coalesced). */
  wake(): void {
    if (this.stopped) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = true;
    void this.loop();
  }

  /** Stops waking up; aborts what is in flight and waits for it (at most `timeoutMs`). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.wakeTimer);
    const pending = [...this.inflight.values()];
    for (const f of pending) if (f.kind === 'create') f.abort.abort();
    await Promise.race([
      Promise.all(pending.map((f) => f.done)),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    } finally {
      this.passing = false;
    }
  }

  private async pass(): Promise<void> {
    const { driver, owner } = this.d;
    let listed;
    // Taken before listing: a container of a replica unassigned under this generation cannot appear
    // after the listing (creations for it are aborted), so the listing speaks for this generation.
    const generation = this.desired !== undefined ? (this.generation ?? 0) : undefined;
    try {
      listed = await driver.listContainers(owner);
      this.engineOk = true;
      this.lastListError = undefined;
    } catch (error) {
      this.engineOk = false;
      const message = (error as Error).message;
      if (message !== this.lastListError) this.log.warn(`cannot list containers: ${message}`);
      this.lastListError = message;
      agentMetrics.errors.inc({ node: owner.nodeId, what: 'list' });
      return;
    }
    const timer = agentMetrics.passes.startTimer({ node: owner.nodeId });
    const containers = listed.map(observe);
    if (generation !== undefined)
      this.observed = {
        generation,
        replicaIds: new Set(containers.flatMap((c) => (c.replicaId ? [c.replicaId] : []))),
      };
    const now = Date.now();
    // Docker sends `die` before its container list shows the container stopped: a pass woken by the
    // event may still see it running. Look again shortly until the list agrees, instead of leaving
    // the exit unnoticed until the next periodic resync.
    let lagging = false;
    for (const [id, at] of this.died) {
      const c = listed.find((l) => l.id === id);
      if (c?.state !== 'running' || now - at > LISTING_LAG_MS) this.died.delete(id);
      else lagging = true;
    }
    const plan = planConvergence({
      now,
      desired: this.desired,
      containers,
      replicas: this.d.replicas,
      busy: new Set(this.inflight.keys()),
      orphanSince: this.orphanSince,
      orphanGraceMs: this.d.orphanGraceMs,
    });
    this.orphanSince = plan.orphanSince;
    timer();

    if (this.desired) {
      const wanted = new Set(this.desired.map((r) => r.replicaId));
      for (const [key, f] of this.inflight)
        if (f.kind === 'create' && !wanted.has(key) && !f.abort.signal.aborted) f.abort.abort();
      const present = new Set(containers.flatMap((c) => (c.replicaId ? [c.replicaId] : [])));
      for (const id of this.d.checkpoint.ids())
        if (!wanted.has(id) && !present.has(id) && !this.d.replicas.has(id)) this.d.checkpoint.delete(id);
    }
    for (const action of plan.actions) this.dispatch(action);
    if (plan.wakeAt !== undefined) this.wakeAt(plan.wakeAt);
    if (lagging) this.wakeAt(now + LISTING_RECHECK_MS);
    this.updateGauge();
  }

  private dispatch(action: Action): void {
    const key = actionKey(action);
    if (this.inflight.has(key)) return;
    const abort = new AbortController();
    const entry: InFlight = { kind: action.kind, abort, done: Promise.resolve() };
    this.inflight.set(key, entry);
    entry.done = (async () => {
      try {
        await this.d.executor.execute(action, abort.signal);
      } catch (error) {
        this.log.warn(`${action.kind} ${key} failed: ${(error as Error).message}`);
        agentMetrics.errors.inc({ node: this.d.owner.nodeId, what: action.kind });
      } finally {
        this.inflight.delete(key);
        this.wake();
      }
    })();
  }

  private wakeAt(at: number): void {
    if (this.wakeTimer && this.wakeTimerAt !== undefined && this.wakeTimerAt <= at) return;
    clearTimeout(this.wakeTimer);
    this.wakeTimerAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeTimerAt = undefined;
        this.wake();
      },
      Math.max(0, at - Date.now()) + 5,
    );
  }

  private updateGauge(): void {
    const counts = new Map<string, number>(REPLICA_PHASES.map((p) => [p, 0]));
    for (const rt of this.d.replicas.values()) counts.set(rt.phase, (counts.get(rt.phase) ?? 0) + 1);
    for (const [phase, n] of counts) agentMetrics.replicas.set({ node: this.d.owner.nodeId, phase }, n);
  }
}
