import type { NodeAssignments, ReplicaAssignment, ReplicaPhase } from '@gantry/contracts';

import type { ContainerState } from '../driver/driver.js';
import type { ObservedContainer } from './ownership.js';

/** What the agent remembers of a replica it runs (its observed side beyond the container). */
export interface ReplicaView {
  phase: ReplicaPhase;
  containerId?: string;
  /** Set while the replica waits to be restarted (or re-created): the time it is due, ms. */
  retryAt?: number;
  /** The running container its liveness probe found dead: stopped, then restarted as after an exit. */
  deadContainerId?: string;
}

export interface PlanInput {
  now: number;
  /** The replicas the node must run; undefined until the first assignment is known. */
  desired: ReadonlyArray<ReplicaAssignment> | undefined;
  containers: ReadonlyArray<ObservedContainer>;
  replicas: ReadonlyMap<string, ReplicaView>;
  /** Keys (replica ids, or container ids for containers without one) with an action in flight. */
  busy: ReadonlySet<string>;
  /** Container id → when it was first seen with no assignment accounting for it. */
  orphanSince: ReadonlyMap<string, number>;
  orphanGraceMs: number;
}

export type StopReason = 'unassigned' | 'orphan' | 'duplicate';

export type Action =
  /** Pull if needed, check, create and start a container for the replica. */
  | { kind: 'create'; replicaId: string; assignment: ReplicaAssignment }
  /** Take over a container found with the replica's labels (after an agent restart). */
  | {
      kind: 'adopt';
      replicaId: string;
      assignment: ReplicaAssignment;
      containerId: string;
      state: ContainerState;
    }
  /** Start the replica's existing container (never started, or its restart is due). */
  | { kind: 'start'; replicaId: string; containerId: string }
  /** The replica's container stopped on its own: decide restart or failure. */
  | { kind: 'exited'; replicaId: string; containerId: string }
  /** The replica's running container failed its liveness probe: stop it (its exit then restarts it). */
  | { kind: 'unhealthy'; replicaId: string; containerId: string }
  /** Stop (SIGTERM, grace, SIGKILL) and remove a container. */
  | { kind: 'stop'; containerId: string; replicaId?: string; appId?: string; reason: StopReason }
  /** A replica no longer assigned and without a container: report it stopped and drop it. */
  | { kind: 'forget'; replicaId: string };

export interface Plan {
  actions: Action[];
  /** The orphan clock to carry into the next plan. */
  orphanSince: Map<string, number>;
  /** Earliest time something becomes due (a restart, an orphan's grace), if any. */
  wakeAt?: number;
}

/** The key that serialises work: one action at a time per replica (or per orphan container). */
export function actionKey(a: Action): string {
  if (a.kind === 'stop') return a.replicaId ?? `container:${a.containerId}`;
  return a.replicaId;
}

const STATE_RANK: Record<ContainerState, number> = { running: 0, created: 1, exited: 2 };

/** Running before created before exited, then newest first: the first is the one to keep. */
function byPreference(a: ObservedContainer, b: ObservedContainer): number {
  return STATE_RANK[a.state] - STATE_RANK[b.state] || b.createdAt - a.createdAt || a.id.localeCompare(b.id);
}

/**
 * Convergence: desired replicas + observed containers + the agent's memory → actions. Pure and
 * idempotent: planning again before the actions finish yields the same actions, which the caller
 * skips through `busy`. Replicas in FAILED stay as they are until unassigned. A container no
 * assignment accounts for is stopped at once when the agent ran it (it was unassigned), and otherwise
 * only once the assignments are known and it has been unaccounted for `orphanGraceMs`.
 */
export function planConvergence(input: PlanInput): Plan {
  const { now, desired, busy } = input;
  const actions: Action[] = [];
  const orphanSince = new Map<string, number>();
  let wakeAt: number | undefined;
  const wake = (t: number): void => {
    if (wakeAt === undefined || t < wakeAt) wakeAt = t;
  };

  const byReplica = new Map<string, ObservedContainer[]>();
  const unlabelled: ObservedContainer[] = [];
  for (const c of input.containers) {
    if (c.replicaId === undefined) unlabelled.push(c);
    else byReplica.set(c.replicaId, [...(byReplica.get(c.replicaId) ?? []), c]);
  }
  const desiredById = new Map((desired ?? []).map((a) => [a.replicaId, a]));

  for (const [replicaId, assignment] of desiredById) {
    if (busy.has(replicaId)) continue;
    const [keep, ...extra] = [...(byReplica.get(replicaId) ?? [])].sort(byPreference);
    for (const c of extra) actions.push({ kind: 'stop', containerId: c.id, replicaId, reason: 'duplicate' });
    if (extra.length) continue; // one action per replica per plan
    const rt = input.replicas.get(replicaId);
    if (!rt) {
      actions.push(
        keep
          ? { kind: 'adopt', replicaId, assignment, containerId: keep.id, state: keep.state }
          : { kind: 'create', replicaId, assignment },
      );
      continue;
    }
    if (rt.phase === 'FAILED') continue;
    if (!keep) {
      // Never created, lost, or waiting to retry a failed creation.
      if (rt.retryAt !== undefined && rt.retryAt > now) wake(rt.retryAt);
      else actions.push({ kind: 'create', replicaId, assignment });
      continue;
    }
    if (keep.id !== rt.containerId) {
      actions.push({ kind: 'adopt', replicaId, assignment, containerId: keep.id, state: keep.state });
      continue;
    }
    if (keep.state === 'running' && rt.deadContainerId === keep.id) {
      actions.push({ kind: 'unhealthy', replicaId, containerId: keep.id });
    } else if (keep.state === 'created' || (keep.state === 'running' && rt.retryAt !== undefined)) {
      actions.push({ kind: 'start', replicaId, containerId: keep.id });
    } else if (keep.state === 'exited') {
      if (rt.retryAt === undefined) actions.push({ kind: 'exited', replicaId, containerId: keep.id });
      else if (rt.retryAt <= now) actions.push({ kind: 'start', replicaId, containerId: keep.id });
      else wake(rt.retryAt);
    }
  }

  const unaccounted: ObservedContainer[] = [...unlabelled];
  for (const [replicaId, cs] of byReplica) {
    if (desiredById.has(replicaId)) continue;
    if (busy.has(replicaId)) continue;
    if (input.replicas.has(replicaId)) {
      for (const c of cs)
        actions.push({
          kind: 'stop',
          containerId: c.id,
          replicaId,
          ...(c.appId ? { appId: c.appId } : {}),
          reason: 'unassigned',
        });
    } else unaccounted.push(...cs);
  }
  for (const c of unaccounted) {
    if (busy.has(`container:${c.id}`)) continue;
    const since = input.orphanSince.get(c.id) ?? now;
    orphanSince.set(c.id, since);
    if (desired === undefined) continue; // assignments not known yet: everything may still be claimed
    if (now - since >= input.orphanGraceMs) {
      orphanSince.delete(c.id);
      actions.push({
        kind: 'stop',
        containerId: c.id,
        ...(c.replicaId ? { replicaId: c.replicaId } : {}),
        ...(c.appId ? { appId: c.appId } : {}),
        reason: 'orphan',
      });
    } else wake(since + input.orphanGraceMs);
  }

  for (const [replicaId] of input.replicas) {
    if (desiredById.has(replicaId) || byReplica.has(replicaId) || busy.has(replicaId)) continue;
    actions.push({ kind: 'forget', replicaId });
  }

  return { actions, orphanSince, ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

export type AssignmentVerdict =
  { accept: true; generation: number; replicas: ReplicaAssignment[] } | { accept: false; why: string };

/**
 * Fencing: an assignment list is applied only when it is for this node and its generation is not
 * lower than the one already applied (a deposed scheduler's late write loses). A deleted key means
 * the node must run nothing.
 */
export function judgeAssignments(
  nodeId: string,
  appliedGeneration: number | undefined,
  value: NodeAssignments | null,
): AssignmentVerdict {
  if (value === null) return { accept: true, generation: appliedGeneration ?? 0, replicas: [] };
  if (value.nodeId !== nodeId)
    return { accept: false, why: `it is addressed to node ${value.nodeId}, not ${nodeId}` };
  if (appliedGeneration !== undefined && value.generation < appliedGeneration)
    return {
      accept: false,
      why: `its generation ${value.generation} is older than the applied ${appliedGeneration}`,
    };
  const seen = new Set<string>();
  const replicas = value.replicas.filter((r) => !seen.has(r.replicaId) && seen.add(r.replicaId));
  return { accept: true, generation: value.generation, replicas };
}
