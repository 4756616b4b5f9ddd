import { randomBytes } from 'node:crypto';

import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';

import type { SchedulerConfig } from './config.js';
import { freeCapacity } from './model/placement.js';
import { reconcileApp } from './model/reconcile.js';
import { NodeRegistry } from './node-registry.js';
import { SchedulerStore } from './store/scheduler-store.js';

/**
 * Runs reconciliation one decision at a time (so two placements never race for the same GPU), on
 * events, on node health changes, and on a periodic resync that catches anything missed.
 */
@Injectable()
export class Reconciler implements OnApplicationShutdown {
  private lane: Promise<unknown> = Promise.resolve();
  private resyncing = false;
  private resyncAgain = false;
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
    this.timers.push(
      setInterval(() => void this.healthTick(), Math.min(500, this.config.NODE_NOT_READY_AFTER_MS / 2)),
    );
    this.timers.push(setInterval(() => void this.resync(), this.config.RESYNC_INTERVAL_MS));
    for (const t of this.timers) t.unref();
    void this.resync();
  }

  onApplicationShutdown(): void {
    for (const t of this.timers) clearInterval(t);
  }

  /** Runs `fn` after everything queued before it, alone. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lane.then(fn, fn);
    this.lane = next.catch(() => undefined);
    return next;
  }

  /** Reconciles one app; call inside `serial`. */
  async reconcileLocked(appId: string): Promise<void> {
    const app = await this.store.app(appId);
    if (!app || app.state === 'DELETED') return;
    const nodes = this.registry.views();
    const all = await this.store.replicas();
    const now = new Date().toISOString();
    const plan = reconcileApp({
      app,
      replicas: all.filter((r) => r.appId === appId),
      free: freeCapacity([...nodes.values()], all),
      nodes,
      now,
      newReplicaId: () => `${appId.slice(0, 8)}-${randomBytes(5).toString('hex')}`,
    });
    const changed =
      plan.statusChanged ||
      plan.create.length ||
      plan.stop.length ||
      plan.forget.length ||
      plan.events.length;
    // A route can change without the app's status changing (a replica's endpoint), so apply anyway.
    await this.store.applyPlan(plan, nodes, now);
    if (changed) this.log.debug(`app ${appId}: ${app.state} → ${plan.app.state}`);
    this.flushSoon();
  }

  reconcile(appIds: string[]): Promise<void> {
    return this.serial(async () => {
      for (const id of appIds) await this.reconcileLocked(id);
    });
  }

  /**
   * Reconciles every app that is not deleted. One app per turn of the lane, so that events arriving
   * meanwhile are handled between them rather than after the whole fleet. One resync at a time: asked
   * for while one runs (a timer, a node back), it runs once more afterwards — never a growing queue.
   */
  async resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    this.resyncing = true;
    try {
      do {
        this.resyncAgain = false;
        for (const id of await this.store.liveAppIds())
          await this.serial(() => this.reconcileLocked(id)).catch((error: unknown) =>
            this.log.warn(`resync of app ${id} failed: ${(error as Error).message}`),
          );
      } while (this.resyncAgain);
    } catch (error) {
      this.log.warn(`resync failed: ${(error as Error).message}`);
    } finally {
      this.resyncing = false;
    }
  }

  private async healthTick(): Promise<void> {
    try {
      const changes = await this.serial(() => this.registry.refreshHealth(Date.now()));
      if (changes.length === 0) return;
      // A node that recovered may unblock queued apps; one that failed affects the apps on it.
      if (changes.some((c) => c.health === 'READY')) await this.resync();
      else await this.reconcile(await this.store.appIdsOnNodes(changes.map((c) => c.id)));
    } catch (error) {
      this.log.warn(`health tick failed: ${(error as Error).message}`);
    }
  }

  private flushSoon(): void {
    this.store
      .flushOutbox()
      .catch((error: unknown) => this.log.warn(`outbox flush failed: ${(error as Error).message}`));
  }
}
