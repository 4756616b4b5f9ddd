import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';

import type { SchedulerConfig } from './config.js';
import { schedulerMetrics } from './metrics.js';
import { Changes, Fleet } from './model/fleet.js';
import { NodeRegistry } from './node-registry.js';
import { SchedulerStore } from './store/scheduler-store.js';

/** Changes an operation makes to the fleet; returns the apps to reconcile in the same pass. */
export type FleetOp<T> = (fleet: Fleet, ch: Changes) => { apps?: Iterable<string>; result: T };

interface Queued {
  run: FleetOp<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Operations taken per pass: what arrives meanwhile waits for the next one. */
const MAX_OPS_PER_PASS = 2000;
/** Apps of a resync (or woken by freed capacity) reconciled per pass, so that events never wait long. */
const MAX_BACKLOG_PER_PASS = 256;
/** How long an app whose reconcile fails on its own is left alone. */
const SET_ASIDE_MS = 60_000;

/**
 * Runs the scheduler's decisions in passes, one at a time (so two placements never race for a GPU).
 * A pass takes every operation that arrived since the last one (events, reports, operator commands),
 * applies them to the in-memory Fleet, reconciles the apps they concern plus a slice of the backlog,
 * and commits all of it at once (SchedulerStore.persist); the operations resolve (and their messages
 * are acked) once it is committed. A failed commit reloads the fleet from the database and retries
 * the pass's parts one per pass, so that only what fails on its own fails (see `failed`).
 */
@Injectable()
export class Reconciler implements OnApplicationShutdown {
  readonly fleet = new Fleet();
  private queue: Queued[] = [];
  /** Apps to reconcile in the next pass whatever its size (their node changed). */
  private readonly urgent = new Set<string>();
  /** Apps to reconcile a slice at a time (a resync, capacity freed). */
  private readonly backlog = new Set<string>();
  private running: Promise<void> | undefined;
  private loaded = false;
  /** Passes left that take one operation or app each (see `failed`). */
  private solo = 0;
  /** Apps whose reconcile failed on its own, and until when they are left alone. */
  private readonly setAside = new Map<string, number>();
  /** The registry version the fleet last took its nodes from. */
  private nodesVersion = -1;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly log = new Logger('Reconciler');

  constructor(
    private readonly store: SchedulerStore,
    private readonly registry: NodeRegistry,
    private readonly config: SchedulerConfig,
  ) {}

  /** Starts acting: call once this process leads (see AdvisoryLease in main). */
  async start(): Promise<void> {
    await this.registry.load(
      { notReadyAfterMs: this.config.NODE_NOT_READY_AFTER_MS, lostAfterMs: this.config.NODE_LOST_AFTER_MS },
      Date.now(),
    );
    await this.reload();
    this.timers.push(
      setInterval(() => void this.healthTick(), Math.min(500, this.config.NODE_NOT_READY_AFTER_MS / 2)),
    );
    this.timers.push(setInterval(() => this.resync(), this.config.RESYNC_INTERVAL_MS));
    for (const t of this.timers) t.unref();
    this.resync();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.running;
    // Not taken by a pass: their messages are redelivered (to whoever leads next).
    for (const q of this.queue.splice(0)) q.reject(new Error('the scheduler is shutting down'));
  }

  /** Runs `op` in the next pass and reconciles the apps it names; resolves once that pass committed. */
  submit<T>(op: FleetOp<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new Error('the scheduler is shutting down'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: op, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Reconciles these apps in the next pass; resolves once it is committed. */
  reconcile(appIds: Iterable<string>): Promise<void> {
    return this.submit(() => ({ apps: appIds, result: undefined }));
  }

  /** A node changed (registered, capacity, health): its apps now, the apps waiting for room soon. */
  nodesChanged(nodeIds: Iterable<string>): void {
    for (const id of this.fleet.appIdsOn(nodeIds)) this.urgent.add(id);
    for (const id of this.fleet.waiting) this.backlog.add(id);
    this.kick();
  }

  /** Reconciles every app that is not deleted, a slice per pass, between the events. */
  resync(): void {
    for (const id of this.fleet.liveAppIds()) this.backlog.add(id);
    this.kick();
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0 || this.urgent.size > 0 || this.backlog.size > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped && (this.queue.length > 0 || this.urgent.size > 0 || this.backlog.size > 0)) {
      // Let whatever is already arriving join this pass.
      await new Promise((resolve) => setImmediate(resolve));
      await this.pass();
    }
  }

  private async pass(): Promise<void> {
    if (!this.loaded) {
      try {
        await this.reload();
      } catch (error) {
        const failed = this.queue.splice(0);
        for (const q of failed) q.reject(error);
        this.log.warn(`cannot load the fleet: ${(error as Error).message}; retrying`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return;
      }
    }
    const started = performance.now();
    const fleet = this.fleet;
    const ch = new Changes();
    // After a failed pass, its parts go one per pass until each has committed or failed alone.
    const solo = this.solo > 0;
    if (solo) this.solo--;
    const ops = this.queue.splice(0, solo ? 1 : MAX_OPS_PER_PASS);
    const apps = new Set<string>();
    const done: Array<{ q: Queued; result: unknown }> = [];
    for (const q of ops) {
      try {
        const { apps: named, result } = q.run(fleet, ch);
        for (const id of named ?? []) apps.add(id);
        done.push({ q, result });
      } catch (error) {
        q.reject(error);
      }
    }
    if (!solo) {
      for (const id of this.urgent) apps.add(id);
      this.urgent.clear();
      let taken = 0;
      for (const id of this.backlog) {
        if (taken++ >= MAX_BACKLOG_PER_PASS) break;
        apps.add(id);
      }
    } else if (ops.length === 0) {
      const [next] = this.urgent.size > 0 ? this.urgent : this.backlog;
      if (next !== undefined) {
        apps.add(next);
        this.urgent.delete(next);
      }
    }
    for (const id of apps) {
      this.backlog.delete(id);
      if ((this.setAside.get(id) ?? 0) > Date.now()) apps.delete(id);
      else this.setAside.delete(id);
    }

    const now = new Date().toISOString();
    try {
      if (this.registry.version !== this.nodesVersion) {
        this.nodesVersion = this.registry.version;
        fleet.syncNodes(this.registry.views());
      }
      for (const id of apps) fleet.reconcile(id, now, ch);
      fleet.finish(now, ch, (id) => this.registry.appliedGeneration(id));
      if (!ch.empty) await this.store.persist(ch, fleet);
    } catch (error) {
      // Memory may now be ahead of the database: start again from the database.
      this.loaded = false;
      await this.failed(
        error,
        done.map((d) => d.q),
        apps,
        solo,
      );
      return;
    }
    fleet.compact(ch);
    for (const { q, result } of done) q.resolve(result);
    schedulerMetrics.pass.observe((performance.now() - started) / 1000);
    schedulerMetrics.passApps.observe(apps.size);
    if (fleet.capacityFreed) {
      fleet.capacityFreed = false;
      for (const id of fleet.waiting) this.backlog.add(id);
    }
    if (!ch.empty)
      this.store
        .flushOutbox()
        .catch((error: unknown) => this.log.warn(`outbox flush failed: ${(error as Error).message}`));
  }

  /**
   * A pass failed. Run alone, its one operation fails (its message is retried later, then
   * dead-lettered) and its app is set aside for a while; run with others, its parts are retried one
   * per pass, so that one bad operation or app never fails the rest.
   */
  private async failed(error: unknown, ops: Queued[], apps: Set<string>, solo: boolean): Promise<void> {
    const why = (error as Error).message;
    if (solo || ops.length + apps.size <= 1) {
      for (const q of ops) q.reject(error);
      // Only if the database answers: when it does not, nothing here is to blame.
      const specific = await this.reload().then(
        () => true,
        () => false,
      );
      for (const id of apps) {
        if (!specific) {
          this.urgent.add(id);
          continue;
        }
        this.setAside.set(id, Date.now() + SET_ASIDE_MS);
        this.log.error(`app ${id} set aside for ${SET_ASIDE_MS / 1000} s: reconciling it fails: ${why}`);
      }
      if (apps.size === 0 || !specific) this.log.error(`a pass failed: ${why}`);
      return;
    }
    this.log.error(
      `pass of ${ops.length} operation(s) and ${apps.size} app(s) failed, retrying them one by one: ${why}`,
    );
    this.queue.unshift(...ops);
    for (const id of apps) this.urgent.add(id);
    this.solo = ops.length + apps.size;
  }

  private async reload(): Promise<void> {
    const { apps, replicas, generations, deleted } = await this.store.load();
    this.fleet.load(apps, replicas, generations, deleted);
    this.nodesVersion = -1;
    this.loaded = true;
    for (const id of this.fleet.liveAppIds()) this.backlog.add(id);
  }

  private async healthTick(): Promise<void> {
    try {
      const changes = await this.registry.refreshHealth(Date.now());
      if (changes.length > 0) this.nodesChanged(changes.map((c) => c.id));
    } catch (error) {
      this.log.warn(`health tick failed: ${(error as Error).message}`);
    }
  }
}
