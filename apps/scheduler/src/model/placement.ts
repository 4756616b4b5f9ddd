import type { NodeView, ReplicaRequest, ReplicaView } from './types.js';

/** Free resources of one node, and how many replicas of each app it holds. */
export interface NodeFree {
  node: NodeView;
  cpus: number;
  memory: number;
  /** GPUs not bound to any replica, lowest index first. */
  gpus: NodeView['capacity']['gpus'];
  appReplicas: Map<string, number>;
}

export type PlacementResult =
  { ok: true; nodeId: string; gpus: Array<{ index: number; uuid: string }> } | { ok: false; reason: string };

/**
 * Free capacity per node: capacity minus what every replica bound to it holds (a replica holds its
 * resources until its node reports it stopped, whatever its desired state).
 */
export function freeCapacity(
  nodes: readonly NodeView[],
  replicas: readonly ReplicaView[],
): Map<string, NodeFree> {
  const out = new Map<string, NodeFree>();
  for (const node of nodes) {
    out.set(node.id, {
      node,
      cpus: node.capacity.cpus,
      memory: node.capacity.memory,
      gpus: [...node.capacity.gpus].sort((a, b) => a.index - b.index),
      appReplicas: new Map(),
    });
  }
  for (const r of replicas) {
    const f = out.get(r.nodeId);
    if (!f) continue;
    f.cpus -= r.cpu;
    f.memory -= r.memory;
    const held = new Set(r.gpus.map((g) => g.uuid));
    f.gpus = f.gpus.filter((g) => !held.has(g.uuid));
    f.appReplicas.set(r.appId, (f.appReplicas.get(r.appId) ?? 0) + 1);
  }
  return out;
}

const EPS = 1e-9;

/** Lower-cased GPU model names: a fleet has a handful, and placement compares them per node. */
const lowered = new Map<string, string>();
function lower(model: string): string {
  let l = lowered.get(model);
  if (l === undefined) {
    l = model.toLowerCase();
    if (lowered.size < 1024) lowered.set(model, l);
  }
  return l;
}

function gpuMatches(model: string, wanted: string | undefined): boolean {
  return !wanted || lower(model).includes(lower(wanted));
}

/**
 * Free GPUs of a wanted model, per free-GPU list: a node's list is replaced (never changed in place)
 * whenever a GPU is taken or given back, so the count holds as long as the list does.
 */
const matchCounts = new WeakMap<NodeFree['gpus'], Map<string, number>>();

function matchingGpus(f: NodeFree, model: string | undefined): number {
  if (!model) return f.gpus.length;
  let counts = matchCounts.get(f.gpus);
  if (!counts) matchCounts.set(f.gpus, (counts = new Map()));
  let n = counts.get(model);
  if (n === undefined) {
    n = 0;
    for (const g of f.gpus) if (gpuMatches(g.model, model)) n++;
    counts.set(model, n);
  }
  return n;
}

/** Feasibility: healthy, schedulable, and every resource free on this one host. */
function fits(f: NodeFree, req: ReplicaRequest, gpusFree: number): boolean {
  if (f.node.health !== 'READY' || !f.node.schedulable) return false;
  if (f.cpus + EPS < req.cpu || f.memory < req.memory) return false;
  return gpusFree >= req.gpus;
}

/** Cheap checks first: most nodes of a busy fleet fail them, and then no GPU is looked at. */
function mayFit(f: NodeFree, req: ReplicaRequest): boolean {
  return (
    f.node.health === 'READY' &&
    f.node.schedulable &&
    f.gpus.length >= req.gpus &&
    f.cpus + EPS >= req.cpu &&
    f.memory >= req.memory
  );
}

/**
 * Higher is better. Spread first: a node with fewer replicas of this app wins (a lost host takes as
 * little of an app as possible). Then pack: GPU replicas go where the fewest matching GPUs would be
 * left (best fit keeps whole hosts free for large requests), CPU replicas likewise on CPUs.
 */
function score(f: NodeFree, req: ReplicaRequest, gpusFree: number): number {
  const sameApp = f.appReplicas.get(req.appId) ?? 0;
  const leftover =
    req.gpus > 0 ? gpusFree - req.gpus : (f.cpus - req.cpu) / Math.max(1, f.node.capacity.cpus);
  return -sameApp * 1_000_000 - leftover * 1000;
}

/** Chooses a node for one replica and binds specific GPUs, or says what blocks it. Pure. */
export function placeReplica(req: ReplicaRequest, free: ReadonlyMap<string, NodeFree>): PlacementResult {
  let best: NodeFree | undefined;
  let bestScore = -Infinity;
  for (const f of free.values()) {
    if (!mayFit(f, req)) continue;
    const gpusFree = req.gpus > 0 ? matchingGpus(f, req.gpuModel) : 0;
    if (!fits(f, req, gpusFree)) continue;
    const s = score(f, req, gpusFree);
    if (s > bestScore || (s === bestScore && best && f.node.id < best.node.id)) {
      best = f;
      bestScore = s;
    }
  }
  if (!best) return { ok: false, reason: unschedulableReason(req, free) };
  const gpus = best.gpus
    .filter((g) => gpuMatches(g.model, req.gpuModel))
    .slice(0, req.gpus)
    .map((g) => ({ index: g.index, uuid: g.uuid }));
  return { ok: true, nodeId: best.node.id, gpus };
}

/** Records a placement in the free map, so that the next decision sees it. */
export function reserve(
  free: Map<string, NodeFree>,
  req: ReplicaRequest,
  placed: { nodeId: string; gpus: Array<{ uuid: string }> },
): void {
  const f = free.get(placed.nodeId);
  if (!f) return;
  f.cpus -= req.cpu;
  f.memory -= req.memory;
  const taken = new Set(placed.gpus.map((g) => g.uuid));
  f.gpus = f.gpus.filter((g) => !taken.has(g.uuid));
  f.appReplicas.set(req.appId, (f.appReplicas.get(req.appId) ?? 0) + 1);
}

/** Names the blocking resource, e.g. "needs 2 × H100 GPUs on one host; largest free on any schedulable host: 1". */
export function unschedulableReason(req: ReplicaRequest, free: ReadonlyMap<string, NodeFree>): string {
  const usable = [...free.values()].filter((f) => f.node.health === 'READY' && f.node.schedulable);
  if (usable.length === 0) {
    return free.size === 0 ? 'no node has registered yet' : 'no schedulable node is ready';
  }
  if (req.gpus > 0) {
    const what = req.gpuModel ? `${req.gpuModel} GPUs` : 'GPUs';
    const largest = Math.max(
      ...usable.map((f) => f.gpus.filter((g) => gpuMatches(g.model, req.gpuModel)).length),
    );
    if (largest < req.gpus)
      return `needs ${req.gpus} × ${what} on one host; largest free on any schedulable host: ${largest}`;
  }
  const cpu = Math.max(...usable.map((f) => f.cpus));
  if (cpu + EPS < req.cpu)
    return `needs ${req.cpu} CPUs on one host; largest free on any schedulable host: ${round(cpu)}`;
  const gib = 1024 ** 3;
  const mem = Math.max(...usable.map((f) => f.memory));
  if (mem < req.memory)
    return `needs ${round(req.memory / gib)} GiB of memory on one host; largest free on any schedulable host: ${round(mem / gib)} GiB`;
  return `needs ${req.cpu} CPUs, ${round(req.memory / gib)} GiB${req.gpus ? ` and ${req.gpus} GPUs` : ''} together on one host; no schedulable host has all of them free`;
}

const round = (n: number): number => Math.max(0, Math.round(n * 10) / 10);
