import type { NodeHeartbeat } from '@gantry/contracts';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';

import { type HealthPolicy, nodeHealth } from './model/node-health.js';
import type { NodeHealth, NodeView } from './model/types.js';
import { SchedulerStore } from './store/scheduler-store.js';

export interface Known {
  view: Omit<NodeView, 'health'>;
  labels: Record<string, string>;
  lastHeartbeatMs: number;
  health: NodeHealth;
  persistedMs: number;
  digest: string;
  /** The last assignment generation the node said it applied. */
  appliedGeneration: number;
  /**
   * Heard from since this scheduler loaded it. A node known only from the database keeps its
   * replicas (and their routes) through a fresh grace period, but gets nothing new until it says
   * what it has now: it may be back with fewer GPUs, or not back at all.
   */
  heard: boolean;
}

const PERSIST_EVERY_MS = 10_000;
/** How long heartbeat times wait to be written together. */
const TOUCH_BATCH_MS = 1000;

/**
 * Nodes as the scheduler knows them: registered by heartbeats, healthy while they keep coming.
 * Heartbeat times live in memory. A node that is new or changed is written at once; an unchanged
 * one's heartbeat time reaches the database every 10 s, with the others due in the same second in
 * one statement (a fleet of 1,000 nodes would otherwise cost 100 writes a second).
 */
@Injectable()
export class NodeRegistry implements OnApplicationShutdown {
  private readonly known = new Map<string, Known>();
  private readonly log = new Logger('NodeRegistry');
  private policy: HealthPolicy = { notReadyAfterMs: 3000, lostAfterMs: 10_000 };
  private cached: { version: number; views: Map<string, NodeView> } | undefined;
  /** Changes whenever a node's view does (registered, capacity, address, health, flags, removed). */
  version = 0;
  /** Heartbeat times of unchanged nodes waiting to be written, and the timer that writes them. */
  private readonly seen = new Map<string, number>();
  private touchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly store: SchedulerStore) {}

  /**
   * Loads known nodes. Each gets a fresh grace period: a scheduler that was down must not declare
   * lost the nodes it simply could not hear.
   */
  async load(policy: HealthPolicy, nowMs: number): Promise<void> {
    this.policy = policy;
    this.version++;
    for (const row of await this.store.nodes()) {
      const view = {
        id: row.id,
        address: row.address,
        schedulable: row.schedulable,
        draining: row.draining,
        capacity: row.capacity,
        simulatedGpus: row.simulatedGpus,
      };
      this.known.set(row.id, {
        view,
        labels: row.labels,
        lastHeartbeatMs: Math.max(row.lastHeartbeatAt.getTime(), nowMs),
        health: 'READY',
        persistedMs: nowMs,
        digest: JSON.stringify(view),
        appliedGeneration: 0,
        heard: false,
      });
    }
  }

  /**
   * Records a heartbeat. True when the node is new, heard from for the first time since it was
   * loaded, or its capacity, address or labels changed.
   */
  async observe(hb: NodeHeartbeat, nowMs: number): Promise<boolean> {
    const prev = this.known.get(hb.nodeId);
    const view = {
      id: hb.nodeId,
      address: hb.address,
      schedulable: prev?.view.schedulable ?? true,
      draining: prev?.view.draining ?? false,
      capacity: hb.capacity,
      simulatedGpus: hb.simulatedGpus,
    };
    const digest = JSON.stringify({ ...view, labels: hb.labels });
    const changed = !prev || prev.digest !== digest || !prev.heard;
    // An unchanged node keeps its view object: placement compares capacities by identity.
    const entry: Known = {
      view: changed ? view : (prev?.view ?? view),
      labels: hb.labels,
      lastHeartbeatMs: nowMs,
      health: prev?.health ?? 'READY',
      persistedMs: prev?.persistedMs ?? 0,
      digest,
      appliedGeneration: hb.appliedGeneration,
      heard: true,
    };
    if (prev) this.known.set(hb.nodeId, entry);
    if (changed) {
      entry.persistedMs = nowMs;
      this.seen.delete(hb.nodeId);
      await this.store.saveHeartbeat({ ...hb, at: new Date(nowMs).toISOString() });
      // A new node is placed on only once its row exists (its assignment generation lives there);
      // a known one that an operator removed meanwhile stays removed.
      if (!prev) {
        this.known.set(hb.nodeId, entry);
        this.log.log(`node ${hb.nodeId} registered at ${hb.address}`);
      }
    } else if (nowMs - entry.persistedMs > PERSIST_EVERY_MS) {
      entry.persistedMs = nowMs;
      this.seen.set(hb.nodeId, nowMs);
      this.touchTimer ??= setTimeout(() => void this.touch(), TOUCH_BATCH_MS).unref();
    }
    if (changed) this.version++;
    return changed;
  }

  /** Writes the heartbeat times collected since the last write. */
  async touch(): Promise<void> {
    this.touchTimer = undefined;
    if (this.seen.size === 0) return;
    const seen = new Map(this.seen);
    this.seen.clear();
    try {
      // A node whose row went away meanwhile (removed by an operator while its heartbeat was in
      // flight) is written whole at its next heartbeat, as a new one would be.
      for (const id of await this.store.touchHeartbeats(seen)) {
        const k = this.known.get(id);
        if (k) k.digest = '';
      }
    } catch (error) {
      this.log.warn(`cannot record ${seen.size} heartbeat time(s): ${(error as Error).message}`);
    }
  }

  /** Times not yet written are dropped: whoever leads next gives every node a fresh grace period. */
  onApplicationShutdown(): void {
    if (this.touchTimer) clearTimeout(this.touchTimer);
    this.seen.clear();
  }

  /** Re-derives health; returns the nodes whose health changed, with their new health. */
  async refreshHealth(nowMs: number): Promise<Array<{ id: string; health: NodeHealth }>> {
    const changes: Array<{ id: string; health: NodeHealth }> = [];
    for (const [id, k] of this.known) {
      const health = nodeHealth(k.lastHeartbeatMs, nowMs, this.policy);
      if (health !== k.health) {
        this.log.warn(`node ${id}: ${k.health} → ${health}`);
        k.health = health;
        this.version++;
        changes.push({ id, health });
        await this.store.setNodeHealth(id, health);
      }
    }
    return changes;
  }

  has(id: string): boolean {
    return this.known.has(id);
  }

  /** An operator's decision: cordon (no new replicas), drain (move them all away), or neither. */
  async setFlags(id: string, flags: { schedulable: boolean; draining: boolean }): Promise<void> {
    const k = this.known.get(id);
    if (!k) return;
    k.view = { ...k.view, ...flags };
    this.version++;
    await this.store.setNodeFlags(id, flags);
  }

  /** Forgets a node an operator removes; returns what it knew, for `restore` if that fails. */
  forget(id: string): Known | undefined {
    const k = this.known.get(id);
    this.known.delete(id);
    this.version++;
    return k;
  }

  /** Takes back a node whose removal did not commit. */
  restore(id: string, known: Known): void {
    if (this.known.has(id)) return;
    this.known.set(id, known);
    this.version++;
  }

  /** The last assignment generation a node said it applied (0 when unknown). */
  appliedGeneration(id: string): number {
    return this.known.get(id)?.appliedGeneration ?? 0;
  }

  /** Everything about a node but what runs on it, for node records. */
  details(
    id: string,
  ): { view: NodeView; labels: Record<string, string>; lastHeartbeatAt: string } | undefined {
    const k = this.known.get(id);
    if (!k) return undefined;
    return {
      view: { ...k.view, health: k.health },
      labels: k.labels,
      lastHeartbeatAt: new Date(k.lastHeartbeatMs).toISOString(),
    };
  }

  /**
   * Every node with its health, as placement sees it (a node not yet heard from is not schedulable:
   * see `Known.heard`); the same map until something changes (see `version`).
   */
  views(): Map<string, NodeView> {
    if (this.cached?.version === this.version) return this.cached.views;
    const views = new Map<string, NodeView>();
    for (const [id, k] of this.known)
      views.set(id, {
        ...k.view,
        health: k.health,
        ...(k.heard ? {} : { schedulable: false }),
      });
    this.cached = { version: this.version, views };
    return views;
  }
}
