/**
 * The chaos suite's invariants, as pure checks over what a run observed (API answers, the Docker
 * Engine's container list, request results, fault windows). Each returns the violations it finds,
 * each naming its app (when it has one) and what was seen; an empty list means the invariant held.
 */
import { billedMinutesFromHistory, type HistoryEntry } from './billing.js';
import type { Desired } from './plan.js';

export const INVARIANTS = [
  'converged',
  'no-orphan-container',
  'no-duplicate-replica',
  'no-gpu-bound-twice',
  'billing-matches-history',
  'no-failed-request-while-paused',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  readonly invariant: Invariant;
  readonly appId?: string;
  readonly details: string;
}

// ---------------------------------------------------------------------------------------------
// Convergence

/** What the API says of an app now; undefined when it answers 404 (the app is gone). */
export interface ObservedApp {
  readonly state: string;
  readonly availableReplicas: number;
  readonly info?: { readonly code?: string; readonly message?: string };
}

export interface AppConvergence {
  readonly appId: string;
  /** The plan's key, for the report. */
  readonly key: string;
  /**
   * Desired states any of which counts as reached: one, unless a request went unanswered (the
   * gateway killed mid-request), when both the state before and the one asked for are acceptable.
   */
  readonly acceptable: readonly Desired[];
  readonly observed: ObservedApp | undefined;
}

/** Why `observed` does not satisfy `desired`, or undefined when it does. */
export function convergenceGap(desired: Desired, observed: ObservedApp | undefined): string | undefined {
  if (observed && (observed.state === 'FAILED' || observed.state === 'ERROR')) {
    // The platform may give up on an app, but must say why.
    return observed.info?.message ? undefined : `${observed.state} without a reason`;
  }
  switch (desired.state) {
    case 'deleted':
      return observed === undefined || observed.state === 'DELETED'
        ? undefined
        : `still ${observed.state}, deletion asked for`;
    case 'stopped':
      if (!observed) return 'gone (404), but it was only stopped';
      return observed.state === 'STOPPED' ? undefined : `${observed.state}, STOPPED wanted`;
    case 'running':
      if (!observed) return `gone (404), RUNNING with ${desired.replicas} wanted`;
      return observed.state === 'RUNNING' && observed.availableReplicas === desired.replicas
        ? undefined
        : `${observed.state} with ${observed.availableReplicas} available, RUNNING with ${desired.replicas} wanted`;
  }
}

/** Every app is in (one of) its desired states, or FAILED/ERROR with a reason. */
export function checkConvergence(apps: readonly AppConvergence[]): Violation[] {
  const out: Violation[] = [];
  for (const a of apps) {
    const gaps = a.acceptable.map((d) => convergenceGap(d, a.observed));
    if (gaps.some((g) => g === undefined)) continue;
    const info = a.observed?.info?.message
      ? ` (info: ${a.observed.info.code ?? ''} ${a.observed.info.message})`
      : '';
    out.push({ invariant: 'converged', appId: a.appId, details: `${a.key}: ${gaps.join(' / ')}${info}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Containers

/** A container of the run's namespace, from its `gantry.*` labels. */
export interface ContainerView {
  readonly id: string;
  readonly replicaId?: string;
  readonly appId?: string;
  readonly nodeId?: string;
  /** Docker's state: running, paused, exited, created, restarting… */
  readonly state: string;
}

/** A replica the scheduler assigns to a node (GET /v1/node: each node's `replicas`). */
export interface Assignment {
  readonly replicaId: string;
  readonly appId: string;
  readonly nodeId: string;
}

const short = (id: string): string => id.slice(0, 12);

/**
 * Orphans: containers labelled as a replica the scheduler does not assign, or assigns to another
 * node than the one whose label the container bears (whatever their state: an exited container the
 * agent should have removed is garbage all the same).
 */
export function checkOrphans(
  containers: readonly ContainerView[],
  assigned: readonly Assignment[],
): Violation[] {
  const where = new Map<string, string[]>();
  for (const a of assigned) where.set(a.replicaId, [...(where.get(a.replicaId) ?? []), a.nodeId]);
  const out: Violation[] = [];
  for (const c of containers) {
    if (!c.replicaId) {
      out.push({
        invariant: 'no-orphan-container',
        ...(c.appId ? { appId: c.appId } : {}),
        details: `container ${short(c.id)} (${c.state}) on ${c.nodeId ?? '?'} has no replica label`,
      });
      continue;
    }
    const nodes = where.get(c.replicaId);
    if (nodes && c.nodeId !== undefined && nodes.includes(c.nodeId)) continue;
    out.push({
      invariant: 'no-orphan-container',
      ...(c.appId ? { appId: c.appId } : {}),
      details:
        `container ${short(c.id)} (${c.state}) of replica ${c.replicaId} on ${c.nodeId ?? '?'}: ` +
        (nodes ? `the scheduler assigns it to ${nodes.join(', ')}` : 'the scheduler assigns it nowhere'),
    });
  }
  return out;
}

/** States in which a container runs or could run again at once (not exited or dead). */
const LIVE_STATES = new Set(['running', 'paused', 'restarting', 'created']);

/** No replica has two live containers (anywhere: same node or two). */
export function checkDuplicates(containers: readonly ContainerView[]): Violation[] {
  const byReplica = new Map<string, ContainerView[]>();
  for (const c of containers) {
    if (!c.replicaId || !LIVE_STATES.has(c.state)) continue;
    byReplica.set(c.replicaId, [...(byReplica.get(c.replicaId) ?? []), c]);
  }
  const out: Violation[] = [];
  for (const [replicaId, cs] of byReplica) {
    if (cs.length < 2) continue;
    out.push({
      invariant: 'no-duplicate-replica',
      ...(cs[0]?.appId ? { appId: cs[0].appId } : {}),
      details: `replica ${replicaId} has ${cs.length} containers: ${cs
        .map((c) => `${short(c.id)} (${c.state}) on ${c.nodeId ?? '?'}`)
        .join(', ')}`,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// GPUs

/** A node as GET /v1/node shows it, what the GPU check reads of it. */
export interface NodeGpuView {
  readonly id: string;
  readonly capacity: { readonly gpus: number };
  readonly allocated: { readonly gpus: number };
  readonly gpus: ReadonlyArray<{
    readonly index: number;
    readonly appId?: string;
    readonly replicaId?: string;
  }>;
}

/**
 * No GPU is bound twice: the scheduler allocates no more GPUs than a node has and binds each replica
 * on one node only; and no two live containers on one node hold the same GPU, each container's GPUs
 * being those its replica was last seen bound to (`boundTo`: replica → node and GPU indexes, from
 * node records sampled during the run; a replica never seen bound holds none).
 */
export function checkGpus(
  nodes: readonly NodeGpuView[],
  containers: readonly ContainerView[],
  boundTo: ReadonlyMap<string, { readonly nodeId: string; readonly indexes: readonly number[] }>,
): Violation[] {
  const out: Violation[] = [];
  const nodesOfReplica = new Map<string, Set<string>>();
  for (const n of nodes) {
    if (n.allocated.gpus > n.capacity.gpus)
      out.push({
        invariant: 'no-gpu-bound-twice',
        details: `node ${n.id} has ${n.allocated.gpus} GPUs allocated of ${n.capacity.gpus}`,
      });
    for (const g of n.gpus) {
      if (!g.replicaId) continue;
      const s = nodesOfReplica.get(g.replicaId) ?? new Set<string>();
      s.add(n.id);
      nodesOfReplica.set(g.replicaId, s);
    }
  }
  for (const [replicaId, s] of nodesOfReplica)
    if (s.size > 1)
      out.push({
        invariant: 'no-gpu-bound-twice',
        details: `replica ${replicaId} holds GPUs on ${s.size} nodes: ${[...s].join(', ')}`,
      });
  const holders = new Map<string, ContainerView[]>(); // `${node}/${index}` → live containers
  for (const c of containers) {
    if (!c.replicaId || !LIVE_STATES.has(c.state)) continue;
    const b = boundTo.get(c.replicaId);
    if (!b || b.nodeId !== c.nodeId) continue;
    for (const i of b.indexes) {
      const key = `${b.nodeId}/${i}`;
      holders.set(key, [...(holders.get(key) ?? []), c]);
    }
  }
  for (const [key, cs] of holders)
    if (cs.length > 1)
      out.push({
        invariant: 'no-gpu-bound-twice',
        ...(cs[0]?.appId ? { appId: cs[0].appId } : {}),
        details: `GPU ${key} is held by ${cs.length} live containers: ${cs
          .map((c) => `${short(c.id)} (${c.state}, replica ${c.replicaId ?? '?'}, app ${c.appId ?? '?'})`)
          .join(', ')}`,
      });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Billing

export interface AppBilling {
  readonly appId: string;
  readonly history: readonly HistoryEntry[];
  /** The history is the platform's last HISTORY_LIMIT entries: earlier runs cannot be recomputed. */
  readonly truncated: boolean;
  /** Σ minutes of the runs `/v1/billing/usage?appId=` returned, and its `asOf`. */
  readonly billedMinutes: number;
  readonly asOf: number;
}

/** Billed minutes equal the recomputation from the status history (apps with a whole history). */
export function checkBilling(apps: readonly AppBilling[]): Violation[] {
  const out: Violation[] = [];
  for (const a of apps) {
    if (a.truncated) continue;
    const expected = billedMinutesFromHistory(a.history, a.asOf);
    if (expected === a.billedMinutes) continue;
    out.push({
      invariant: 'billing-matches-history',
      appId: a.appId,
      details:
        `billed ${a.billedMinutes} min, the history gives ${expected} (asOf ${new Date(a.asOf).toISOString()}; ` +
        `history ${a.history.map((h) => `${h.state}@${h.date.slice(11, 23)}`).join(' ')})`,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests while a replica is paused

/** One idempotent request (GET) through the ingress. Times are epoch ms. */
export interface RequestResult {
  readonly appId: string;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  /** Status and body start, or the error. */
  readonly detail: string;
}

/**
 * One pause of one replica. `before` is what the API said of the app just before: only an app that
 * was RUNNING with at least 2 available replicas must keep answering.
 */
export interface PauseWindow {
  readonly appId: string;
  readonly replicaId: string;
  readonly from: number;
  readonly to: number;
  readonly before: { readonly state: string; readonly availableReplicas: number } | undefined;
}

/** A span during which failures are someone else's doing: `app` absent means every app. */
export interface Disturbance {
  readonly from: number;
  readonly to: number;
  readonly appId?: string;
  readonly why: string;
}

export interface PausedRequestsVerdict {
  readonly violations: Violation[];
  /** Pauses that were judged (the app had ≥ 2 replicas ready, nothing else was disturbing it). */
  readonly judgedPauses: number;
  /** Requests that started inside judged pauses. */
  readonly judgedRequests: number;
}

const overlaps = (a: { from: number; to: number }, from: number, to: number): boolean =>
  a.from < to && from < a.to;

/**
 * No idempotent request to an app with ≥ 2 ready replicas fails while one of them is paused. A
 * pause is judged when the app was RUNNING with ≥ 2 available replicas just before it, and no
 * disturbance (ingress down, an agent down, a request of the workload to that app…) overlaps it;
 * every request that started inside a judged pause must have succeeded (one stuck on the paused
 * replica until after the unpause counts: it failed its caller).
 */
export function checkPausedRequests(
  requests: readonly RequestResult[],
  pauses: readonly PauseWindow[],
  disturbances: readonly Disturbance[],
): PausedRequestsVerdict {
  const violations: Violation[] = [];
  let judgedPauses = 0;
  let judgedRequests = 0;
  for (const p of pauses) {
    if (!p.before || p.before.state !== 'RUNNING' || p.before.availableReplicas < 2) continue;
    if (disturbances.some((d) => (d.appId === undefined || d.appId === p.appId) && overlaps(d, p.from, p.to)))
      continue;
    judgedPauses++;
    const inside = requests.filter((q) => q.appId === p.appId && q.start >= p.from && q.start < p.to);
    judgedRequests += inside.length;
    const failed = inside.filter((q) => !q.ok);
    if (!failed.length) continue;
    const seen = [...new Set(failed.map((q) => q.detail))].slice(0, 3).join(' | ');
    violations.push({
      invariant: 'no-failed-request-while-paused',
      appId: p.appId,
      details:
        `${failed.length} of ${inside.length} requests failed while replica ${p.replicaId} was paused ` +
        `(${(p.to - p.from) / 1000} s, ${p.before.availableReplicas} available before): ${seen}`,
    });
  }
  return { violations, judgedPauses, judgedRequests };
}

// ---------------------------------------------------------------------------------------------
// Report

/** The violations grouped by invariant, one line each, and a line per invariant that held. */
export function formatViolations(violations: readonly Violation[]): string {
  const lines: string[] = [];
  for (const inv of INVARIANTS) {
    const vs = violations.filter((v) => v.invariant === inv);
    lines.push(`${vs.length ? 'FAIL' : 'ok  '} ${inv}: ${vs.length} violation${vs.length === 1 ? '' : 's'}`);
    for (const v of vs) lines.push(`       - ${v.appId ? `app ${v.appId}: ` : ''}${v.details}`);
  }
  return lines.join('\n');
}
