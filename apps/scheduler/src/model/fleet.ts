import { createHash, randomBytes, randomUUID } from 'node:crypto';

import {
  ACTIVE_STATES,
  APP_EVENT_BATCH_MAX,
  APP_STATUS_BATCH_MAX,
  type AppDesired,
  type AppEvent,
  type AppScale,
  type AppStatusChanged,
  indexEntry,
  type NodeHeartbeat,
  type ReplicaAssignment,
  replicaAssignmentKey,
  type ReplicaReport,
} from '@gantry/contracts';
import type { OutboxEntry } from '@gantry/database';

import { assignmentFor, placedAtStart } from './assignment.js';
import { FreeCapacity, freeCapacity, type PlacementResult, placeReplica, release } from './placement.js';
import { reconcileApp, type ReconcilePlan } from './reconcile.js';
import { routeFor } from './route.js';
import { applyScale, scalingEntryFor, scalingOnDesired, wantedReplicas } from './scaling.js';
import type { AppView, NodeView, ReplicaRequest, ReplicaView } from './types.js';

/** An app as stored: its view plus the version and digest (a hash) of the last route published for it. */
export interface StoredApp extends AppView {
  routeVersion: number;
  routeDigest: string;
  /** Version and digest of the last `scaling` entry published for the app ('' when none is). */
  scalingVersion: number;
  scalingDigest: string;
}

/** A replica as stored: its view plus what its node is told to run, and when it was created. */
export interface StoredReplica extends ReplicaView {
  assignment: ReplicaAssignment;
  createdAt: string;
}

/**
 * What one pass changed, for the store to write in one transaction: rows by id (their content is
 * the fleet's), node generations, nodes removed, and the messages to send once committed.
 */
export class Changes {
  /** Apps whose desired state (spec, lifecycle, version) changed: their whole row is written. */
  readonly desired = new Set<string>();
  /** Apps whose status or route changed: only those columns are written. */
  readonly apps = new Set<string>();
  readonly replicas = new Set<string>();
  readonly deletedReplicas = new Set<string>();
  /** Nodes whose assignment list changed; `Fleet.finish` turns them into generations and KV writes. */
  readonly nodes = new Set<string>();
  readonly generations = new Map<string, number>();
  readonly deletedNodes = new Set<string>();
  readonly outbox: OutboxEntry[] = [];
  /** Large assignments of replicas placed in the pass, each under its own key: written ahead of the lists. */
  readonly replicaAssignments: OutboxEntry[] = [];
  /** Status changes of the pass; `Fleet.finish` sends them together (`app.status.v2`). */
  readonly statuses: AppStatusChanged[] = [];
  /** App events of the pass; `Fleet.finish` sends them together (`app.event.v2`). */
  readonly events: AppEvent[] = [];

  get empty(): boolean {
    return (
      this.desired.size === 0 &&
      this.apps.size === 0 &&
      this.replicas.size === 0 &&
      this.deletedReplicas.size === 0 &&
      this.generations.size === 0 &&
      this.deletedNodes.size === 0 &&
      this.outbox.length === 0 &&
      this.replicaAssignments.length === 0 &&
      this.statuses.length === 0 &&
      this.events.length === 0
    );
  }
}

export interface FleetIds {
  replica(appId: string): string;
  event(): string;
}

const randomIds: FleetIds = {
  replica: (appId) => `${appId.slice(0, 8)}-${randomBytes(5).toString('hex')}`,
  event: () => randomUUID(),
};

/**
 * The leader's working copy of everything it decides about: apps, replicas, each node's free
 * capacity and assignment generation. Loaded from the database when the scheduler takes the lead and
 * changed only here; each change is recorded in a `Changes` that the store commits, so memory and
 * database agree after every pass (a failed commit reloads). No I/O.
 */
export class Fleet {
  private readonly appsById = new Map<string, StoredApp>();
  /** Deleted apps, by id: only what it takes to recognise a replay of their desired states. */
  private readonly deleted = new Set<string>();
  private readonly replicasById = new Map<string, StoredReplica>();
  private readonly byApp = new Map<string, Set<string>>();
  private readonly byNode = new Map<string, Set<string>>();
  private readonly generations = new Map<string, number>();
  /** Free capacity per known node; placements reserve in it, removals give back to it. */
  readonly free = new FreeCapacity();
  private nodes: ReadonlyMap<string, NodeView> = new Map();
  /** Apps with replicas that found no room the last time they were reconciled. */
  readonly waiting = new Set<string>();
  /** Resources were given back or a node became usable: the waiting apps may fit now. */
  capacityFreed = false;
  /**
   * Refusals by request shape. Between two gifts of capacity (a removal, a node change) free
   * capacity only shrinks, so a shape refused once is refused again, for the same reason: a fleet
   * that is full answers the requests queued behind it without looking at every node each time.
   */
  private readonly refusals = new Map<string, string>();

  constructor(private readonly ids: FleetIds = randomIds) {}

  /** Replaces everything with what the database holds (deleted apps by id only); reconcile every app next. */
  load(
    apps: readonly StoredApp[],
    replicas: readonly StoredReplica[],
    generations: ReadonlyMap<string, number>,
    deleted: Iterable<string> = [],
  ): void {
    this.appsById.clear();
    this.deleted.clear();
    for (const id of deleted) this.deleted.add(id);
    this.replicasById.clear();
    this.byApp.clear();
    this.byNode.clear();
    this.generations.clear();
    this.free.clear();
    this.waiting.clear();
    this.refusals.clear();
    this.nodes = new Map();
    for (const a of apps) this.appsById.set(a.id, a);
    for (const r of replicas) this.index(r);
    for (const [id, g] of generations) this.generations.set(id, g);
    // Which apps wait for room is learnt again as every app is reconciled after a load.
    this.capacityFreed = false;
  }

  app(id: string): StoredApp | undefined {
    return this.appsById.get(id);
  }

  liveAppIds(): string[] {
    const out: string[] = [];
    for (const a of this.appsById.values()) if (a.state !== 'DELETED') out.push(a.id);
    return out;
  }

  replica(id: string): StoredReplica | undefined {
    return this.replicasById.get(id);
  }

  replicasOf(appId: string): StoredReplica[] {
    return this.resolve(this.byApp.get(appId));
  }

  replicasOn(nodeId: string): StoredReplica[] {
    return this.resolve(this.byNode.get(nodeId));
  }

  appIdsOn(nodeIds: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const n of nodeIds) for (const r of this.replicasOn(n)) out.add(r.appId);
    return out;
  }

  generation(nodeId: string): number {
    return this.generations.get(nodeId) ?? 0;
  }

  /**
   * Records a newer desired state; a new app starts QUEUED. False for a version already seen or an
   * app already deleted (the event is then a replay).
   */
  saveDesired(d: AppDesired, ch: Changes): boolean {
    if (this.deleted.has(d.appId)) return false;
    const prev = this.appsById.get(d.appId);
    if (prev && (prev.desiredVersion >= d.version || prev.state === 'DELETED')) return false;
    const scaling = scalingOnDesired(prev, d);
    const next: StoredApp = prev
      ? { ...prev, desiredVersion: d.version, lifecycle: d.lifecycle, spec: d.spec, rate: d.rate }
      : {
          id: d.appId,
          projectId: d.projectId,
          desiredVersion: d.version,
          lifecycle: d.lifecycle,
          spec: d.spec,
          rate: d.rate,
          state: 'QUEUED',
          info: { code: 'APP_QUEUED', message: 'waiting to be scheduled' },
          history: [{ state: 'QUEUED', date: d.at }],
          statusVersion: 1,
          availableReplicas: 0,
          allocatedUnits: 0,
          lastTransitionDate: d.at,
          routeVersion: 0,
          routeDigest: '',
          scalingVersion: 0,
          scalingDigest: '',
        };
    if (scaling) next.scaling = scaling;
    else delete next.scaling;
    this.appsById.set(d.appId, next);
    ch.desired.add(d.appId);
    return true;
  }

  /**
   * Records an autoscaler decision about an app (its replica count, or that its metric cannot be
   * read), with the events saying so; returns the app when anything changed.
   */
  saveScale(s: AppScale, ch: Changes): string | undefined {
    const prev = this.appsById.get(s.appId);
    if (!prev) return undefined;
    const outcome = applyScale(prev, s);
    if (!outcome) return undefined;
    this.appsById.set(prev.id, { ...prev, scaling: outcome.scaling });
    ch.apps.add(prev.id);
    for (const e of outcome.events)
      ch.events.push({
        id: this.ids.event(),
        appId: prev.id,
        projectId: prev.projectId,
        at: s.at,
        source: 'autoscaler',
        type: e.type,
        reason: e.type === 'AUTOSCALED' ? 'APP_SCALING' : 'APP_METRICS_UNAVAILABLE',
        message: e.message.slice(0, 8192),
      });
    return prev.id;
  }

  /**
   * Records what a node said about a replica; returns its app. Undefined when the report is stale
   * (older seq), from a node the replica is not on, or about a replica that no longer exists.
   */
  saveReport(r: ReplicaReport, ch: Changes): string | undefined {
    const row = this.replicasById.get(r.replicaId);
    if (!row || row.nodeId !== r.nodeId || r.seq <= row.reportSeq) return undefined;
    if (r.phase === 'STOPPED' && row.desired === 'STOP') {
      this.remove(row, ch);
      return row.appId;
    }
    const next: StoredReplica = {
      ...row,
      phase: r.phase,
      everReady: row.everReady || r.everReady || r.phase === 'READY',
      restarts: r.restarts,
      reportSeq: r.seq,
    };
    for (const k of ['exitCode', 'reason', 'message'] as const) delete next[k];
    if (r.exitCode !== undefined) next.exitCode = r.exitCode;
    if (r.reason) next.reason = r.reason;
    if (r.message) next.message = r.message;
    if (r.endpoint) next.endpoint = r.endpoint;
    this.replicasById.set(next.id, next);
    ch.replicas.add(next.id);
    // Each restart is an app event in the agent's words: why (an exit, its liveness probe) and when
    // the next start is (the agent's backoff bounds how often).
    const app = r.phase === 'RESTARTING' ? this.appsById.get(row.appId) : undefined;
    if (app)
      ch.events.push({
        id: this.ids.event(),
        appId: app.id,
        projectId: app.projectId,
        at: r.at,
        source: 'node-agent',
        type: 'REPLICA_EXITED',
        reason: 'APP_CRASH_LOOP',
        message: `replica ${r.replicaId}: ${r.message ?? 'its container exited; restarting'}`.slice(0, 8192),
        replicaId: r.replicaId,
        nodeId: r.nodeId,
      });
    return row.appId;
  }

  /**
   * The replicas told to stop that a node's heartbeat shows gone: it lists every replica it still has
   * a container of, and it looked under the node's newest assignment generation (so it knew they
   * were to stop). Read-only; see `dropGone`.
   */
  goneFrom(hb: Pick<NodeHeartbeat, 'nodeId' | 'replicas' | 'observedGeneration'>): StoredReplica[] {
    if (hb.observedGeneration === undefined || hb.observedGeneration < this.generation(hb.nodeId)) return [];
    const stopping = this.replicasOn(hb.nodeId).filter((r) => r.desired === 'STOP');
    if (stopping.length === 0) return [];
    const listed = new Set(hb.replicas.map((r) => r.replicaId));
    return stopping.filter((r) => !listed.has(r.id));
  }

  /**
   * Drops the replicas a heartbeat shows gone (see `goneFrom`): what a report would have said had the
   * agent been there to see them go (a restart after their containers vanished). Returns their apps.
   */
  dropGone(hb: Pick<NodeHeartbeat, 'nodeId' | 'replicas' | 'observedGeneration'>, ch: Changes): string[] {
    const apps = new Set<string>();
    for (const r of this.goneFrom(hb)) {
      this.remove(r, ch);
      apps.add(r.appId);
    }
    return [...apps];
  }

  /**
   * Takes the nodes as the registry sees them now: health and flags for placement, free capacity
   * recomputed where the capacity object changed (the registry keeps it while a node is unchanged). A node that appeared, grew or became usable frees capacity.
   */
  syncNodes(views: ReadonlyMap<string, NodeView>): void {
    for (const [id, view] of views) {
      const f = this.free.get(id);
      const usable = view.health === 'READY' && view.schedulable;
      if (!f || f.node.capacity !== view.capacity) {
        const fresh = freeCapacity([view], this.replicasOn(id)).get(id);
        if (fresh) this.free.set(id, fresh);
        if (usable) this.capacityFreed = true;
        continue;
      }
      if (usable && !(f.node.health === 'READY' && f.node.schedulable)) this.capacityFreed = true;
      f.node = view;
    }
    for (const id of [...this.free.keys()]) if (!views.has(id)) this.forgetNode(id);
    this.nodes = views;
    // Health, flags or capacity may have changed anywhere: what was refused may fit now.
    this.refusals.clear();
  }

  /** Runs one convergence step for an app and records its outcome; false when it needs none. */
  reconcile(appId: string, now: string, ch: Changes): boolean {
    const app = this.appsById.get(appId);
    if (!app || app.state === 'DELETED') return false;
    const plan = reconcileApp({
      app,
      replicas: this.replicasOf(appId),
      free: this.free,
      nodes: this.nodes,
      now,
      newReplicaId: () => this.ids.replica(appId),
      place: (req) => this.place(req),
    });
    this.apply(app, plan, now, ch);
    return true;
  }

  /** Once a pass is committed: deleted apps keep only their id (their rows stay in the database). */
  compact(ch: Changes): void {
    for (const id of [...ch.desired, ...ch.apps]) {
      if (this.appsById.get(id)?.state !== 'DELETED') continue;
      this.appsById.delete(id);
      this.deleted.add(id);
    }
  }

  /**
   * Writes the assignment list, under the next generation, of every node whose list changed. The
   * next generation is above what the node said it applied too: a node removed and back, or one a
   * previous leader wrote to, never sees a generation it already has. The lists go out first, ahead
   * of the pass's routes, statuses and events: what nodes must run is what the pass is for, and the
   * rest says nothing a list depends on. The pass's statuses follow its routes (a consumer that sees
   * an app RUNNING finds its route already written), then its app events, several per message.
   */
  finish(now: string, ch: Changes, applied: (nodeId: string) => number = () => 0): void {
    const lists: OutboxEntry[] = [];
    for (const nodeId of ch.nodes) {
      if (!this.nodes.has(nodeId)) continue;
      const generation = Math.max(this.generation(nodeId), applied(nodeId)) + 1;
      this.generations.set(nodeId, generation);
      ch.generations.set(nodeId, generation);
      const replicas = this.replicasOn(nodeId)
        .filter((r) => r.desired === 'RUN')
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((r) => indexEntry(r.assignment));
      lists.push({
        kind: 'kv-put',
        bucket: 'assignments',
        key: nodeId,
        value: { nodeId, generation, updatedAt: now, replicas },
      });
    }
    // A node removed in this pass gets no list here (it is not in `nodes`): its delete and these
    // puts never concern the same key, so moving the puts ahead of it changes nothing it says.
    // A large assignment is stored under its own key before any list refers to it.
    ch.outbox.splice(0, 0, ...ch.replicaAssignments.splice(0), ...lists);
    ch.nodes.clear();
    for (const statuses of statusBatches(ch.statuses.splice(0)))
      ch.outbox.push({
        kind: 'event',
        subject: 'app.status.v2',
        payload: { id: this.ids.event(), statuses },
      });
    for (const events of eventBatches(ch.events.splice(0)))
      ch.outbox.push({ kind: 'event', subject: 'app.event.v2', payload: { id: this.ids.event(), events } });
  }

  /** Forgets a node removed by an operator: its generation and its assignment list. */
  removeNode(nodeId: string, ch: Changes): void {
    this.forgetNode(nodeId);
    ch.deletedNodes.add(nodeId);
    ch.outbox.push({ kind: 'kv-delete', bucket: 'assignments', key: nodeId });
  }

  private place(req: ReplicaRequest): PlacementResult {
    const shape = `${req.gpus}|${req.cpu}|${req.memory}|${req.gpuModel ?? ''}`;
    const refused = this.refusals.get(shape);
    if (refused !== undefined) return { ok: false, reason: refused };
    const placed = placeReplica(req, this.free);
    if (!placed.ok) this.refusals.set(shape, placed.reason);
    return placed;
  }

  private apply(prev: StoredApp, plan: ReconcilePlan, now: string, ch: Changes): void {
    const appId = prev.id;
    const changed =
      plan.statusChanged ||
      plan.create.length > 0 ||
      plan.stop.length > 0 ||
      plan.forget.length > 0 ||
      plan.events.length > 0;
    for (const id of plan.forget) {
      const r = this.replicasById.get(id);
      if (r) this.remove(r, ch);
    }
    for (const id of plan.stop) {
      const r = this.replicasById.get(id);
      if (!r) continue;
      this.replicasById.set(id, { ...r, desired: 'STOP' });
      ch.replicas.add(id);
      ch.nodes.add(r.nodeId);
    }
    for (const r of plan.create) {
      // Its resources were reserved in `free` when it was placed.
      const assignment = assignmentFor(plan.app, r, { refreshImage: placedAtStart(prev.state) });
      this.index({ ...r, assignment, createdAt: now });
      if ('ref' in indexEntry(assignment))
        ch.replicaAssignments.push({
          kind: 'kv-put',
          bucket: 'replica-assignments',
          key: replicaAssignmentKey(r.nodeId, r.id),
          value: assignment,
        });
      ch.replicas.add(r.id);
      ch.nodes.add(r.nodeId);
    }
    if (plan.blocked !== undefined) this.waiting.add(appId);
    else this.waiting.delete(appId);

    const next: StoredApp = {
      ...plan.app,
      routeVersion: prev.routeVersion,
      routeDigest: prev.routeDigest,
      scalingVersion: prev.scalingVersion,
      scalingDigest: prev.scalingDigest,
    };
    let routeChanged = false;
    // What the autoscaler watches: the entry while the app scales automatically and runs, none after.
    const scaling = plan.deleted ? undefined : scalingEntryFor(next, this.replicasOf(appId), this.nodes);
    const scalingDigest = scaling ? createHash('sha1').update(JSON.stringify(scaling)).digest('base64') : '';
    if (scalingDigest !== prev.scalingDigest) {
      routeChanged = true;
      next.scalingDigest = scalingDigest;
      if (scaling) {
        next.scalingVersion = prev.scalingVersion + 1;
        ch.outbox.push({
          kind: 'kv-put',
          bucket: 'scaling',
          key: appId,
          value: { ...scaling, version: next.scalingVersion, updatedAt: now },
        });
      } else ch.outbox.push({ kind: 'kv-delete', bucket: 'scaling', key: appId });
    }
    if (plan.deleted) {
      this.waiting.delete(appId);
      ch.outbox.push({ kind: 'kv-delete', bucket: 'routes', key: appId });
    } else {
      const route = routeFor(next, this.replicasOf(appId), this.nodes);
      const digest = createHash('sha1').update(JSON.stringify(route)).digest('base64');
      if (digest !== prev.routeDigest) {
        routeChanged = true;
        next.routeVersion = prev.routeVersion + 1;
        next.routeDigest = digest;
        ch.outbox.push({
          kind: 'kv-put',
          bucket: 'routes',
          key: appId,
          value: { ...route, version: next.routeVersion, updatedAt: now },
        });
      }
    }
    this.appsById.set(appId, next);
    if (changed || routeChanged) ch.apps.add(appId);
    if (plan.statusChanged)
      ch.statuses.push({
        id: `${appId}:status:${next.statusVersion}`,
        appId,
        projectId: next.projectId,
        version: next.statusVersion,
        at: now,
        state: next.state,
        info: next.info,
        availableReplicas: next.availableReplicas,
        allocatedUnits: next.allocatedUnits,
        history: next.history,
        lastTransitionDate: next.lastTransitionDate,
        rate: next.rate,
        desiredVersion: next.desiredVersion,
        desiredReplicas:
          next.lifecycle === 'RUNNING' && ACTIVE_STATES.has(next.state) ? wantedReplicas(next) : 0,
      });
    for (const e of plan.events)
      ch.events.push({
        id: this.ids.event(),
        appId,
        projectId: next.projectId,
        at: now,
        source: 'scheduler',
        ...e,
        message: e.message.slice(0, 8192),
      });
  }

  private index(r: StoredReplica): void {
    this.replicasById.set(r.id, r);
    addTo(this.byApp, r.appId, r.id);
    addTo(this.byNode, r.nodeId, r.id);
  }

  /** Drops a replica and gives its resources back to its node. */
  private remove(r: StoredReplica, ch: Changes): void {
    this.replicasById.delete(r.id);
    removeFrom(this.byApp, r.appId, r.id);
    removeFrom(this.byNode, r.nodeId, r.id);
    ch.replicas.delete(r.id);
    ch.deletedReplicas.add(r.id);
    if (r.desired === 'RUN') ch.nodes.add(r.nodeId);
    // After the lists that no longer refer to it (they go first: see `finish`).
    if ('ref' in indexEntry(r.assignment))
      ch.outbox.push({
        kind: 'kv-delete',
        bucket: 'replica-assignments',
        key: replicaAssignmentKey(r.nodeId, r.id),
      });
    const f = release(this.free, r);
    if (!f) return;
    this.refusals.clear();
    if (f.node.health === 'READY' && f.node.schedulable) this.capacityFreed = true;
  }

  private forgetNode(nodeId: string): void {
    this.free.delete(nodeId);
    this.generations.delete(nodeId);
  }

  private resolve(ids: Set<string> | undefined): StoredReplica[] {
    const out: StoredReplica[] = [];
    for (const id of ids ?? []) {
      const r = this.replicasById.get(id);
      if (r) out.push(r);
    }
    return out;
  }
}

/** A message's worth of JSON, at most (well under NATS's 1 MiB payload limit). */
const MESSAGE_BYTES = 256 * 1024;

/**
 * Items cut into messages of at most `max` items and about MESSAGE_BYTES, in order. `size` is an
 * upper bound of an item's JSON: strings count six bytes a character (JSON may escape one into six),
 * plus room for its ids, dates and names.
 */
function batches<T>(items: readonly T[], max: number, size: (item: T) => number): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (batch.length > 0 && (batch.length >= max || bytes + n > MESSAGE_BYTES)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += n;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** Events cut into `app.event.v2` messages: the message text dominates. */
export const eventBatches = (events: readonly AppEvent[]): AppEvent[][] =>
  batches(events, APP_EVENT_BATCH_MAX, (e) => 6 * e.message.length + 512);

/**
 * Statuses cut into `app.status.v2` messages: the info text and the history (at most HISTORY_LIMIT
 * entries of a state and a date) dominate.
 */
export const statusBatches = (statuses: readonly AppStatusChanged[]): AppStatusChanged[][] =>
  batches(
    statuses,
    APP_STATUS_BATCH_MAX,
    (s) => 6 * (s.info.message.length + s.rate.flavor.length) + 96 * s.history.length + 1024,
  );

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}
