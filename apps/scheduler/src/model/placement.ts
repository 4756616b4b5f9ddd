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
 * Free capacity per node, indexed for GPU requests. A node whose GPUs are all of one model (nearly
 * every host) sits in a bucket by its number of free GPUs, each bucket sorted by node id: best-fit
 * placement then looks at the buckets that can hold a request, fullest first, and stops at the first
 * node that fits (see `bestNode`), instead of at every node. Nodes with GPUs of several models are
 * looked at every time. Whoever replaces a node's `gpus` list calls `update` (as `reserve` and the
 * Fleet do); `set`, `delete` and `clear` keep the index by themselves.
 */
export class FreeCapacity extends Map<string, NodeFree> {
  /** Nodes with GPUs of one model (or none), by free GPU count, each bucket sorted by id. */
  private readonly buckets: NodeFree[][] = [];
  /** The bucket each of those nodes is in. */
  private readonly bucketOf = new Map<string, number>();
  /** Nodes with GPUs of several models. */
  private readonly mixed = new Map<string, NodeFree>();

  /** Empty: nodes come with `set` (Map's constructor would call it before the index exists). */
  constructor() {
    super();
  }

  override set(id: string, f: NodeFree): this {
    this.unindex(id);
    super.set(id, f);
    if (uniform(f.node.capacity.gpus)) this.bucketIn(id, f);
    else this.mixed.set(id, f);
    return this;
  }

  override delete(id: string): boolean {
    this.unindex(id);
    return super.delete(id);
  }

  override clear(): void {
    this.buckets.length = 0;
    this.bucketOf.clear();
    this.mixed.clear();
    super.clear();
  }

  /** Re-indexes a node whose free GPU list was replaced. */
  update(f: NodeFree): void {
    const id = f.node.id;
    const at = this.bucketOf.get(id);
    if (at === undefined || at === f.gpus.length || this.get(id) !== f) return;
    this.unindex(id);
    this.bucketIn(id, f);
  }

  /** Nodes of one GPU model (or none) with exactly `free` free GPUs, by id. */
  bucket(free: number): readonly NodeFree[] {
    return this.buckets[free] ?? [];
  }

  /** One more than the largest free GPU count of a one-model node. */
  get bucketCount(): number {
    return this.buckets.length;
  }

  mixedNodes(): IterableIterator<NodeFree> {
    return this.mixed.values();
  }

  private bucketIn(id: string, f: NodeFree): void {
    const k = f.gpus.length;
    while (this.buckets.length <= k) this.buckets.push([]);
    const b = this.buckets[k] as NodeFree[];
    b.splice(lowerBound(b, id), 0, f);
    this.bucketOf.set(id, k);
  }

  private unindex(id: string): void {
    this.mixed.delete(id);
    const k = this.bucketOf.get(id);
    if (k === undefined) return;
    this.bucketOf.delete(id);
    const b = this.buckets[k] as NodeFree[];
    const i = lowerBound(b, id);
    if (b[i]?.node.id === id) b.splice(i, 1);
    while (this.buckets.length > 0 && this.buckets[this.buckets.length - 1]?.length === 0) this.buckets.pop();
  }
}

/** The first position in `b` (sorted by node id) whose id is not below `id`. */
function lowerBound(b: readonly NodeFree[], id: string): number {
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((b[mid] as NodeFree).node.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether a node's GPUs are all of one model (per capacity list: the registry keeps it while unchanged). */
const uniformity = new WeakMap<NodeView['capacity']['gpus'], boolean>();
function uniform(gpus: NodeView['capacity']['gpus']): boolean {
  let u = uniformity.get(gpus);
  if (u === undefined) {
    u = gpus.every((g) => g.model === gpus[0]?.model);
    uniformity.set(gpus, u);
  }
  return u;
}

/**
 * Free capacity per node: capacity minus what every replica bound to it holds (a replica holds its
 * resources until its node reports it stopped, whatever its desired state).
 */
export function freeCapacity(nodes: readonly NodeView[], replicas: readonly ReplicaView[]): FreeCapacity {
  const byNode = new Map<string, NodeFree>();
  for (const node of nodes) {
    byNode.set(node.id, {
      node,
      cpus: node.capacity.cpus,
      memory: node.capacity.memory,
      gpus: [...node.capacity.gpus].sort((a, b) => a.index - b.index),
      appReplicas: new Map(),
    });
  }
  for (const r of replicas) {
    const f = byNode.get(r.nodeId);
    if (!f) continue;
    f.cpus -= r.cpu;
    f.memory -= r.memory;
    const held = new Set(r.gpus.map((g) => g.uuid));
    f.gpus = f.gpus.filter((g) => !held.has(g.uuid));
    f.appReplicas.set(r.appId, (f.appReplicas.get(r.appId) ?? 0) + 1);
  }
  const out = new FreeCapacity();
  for (const [id, f] of byNode) out.set(id, f);
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
export function placeReplica(req: ReplicaRequest, free: FreeCapacity): PlacementResult {
  const best = bestNode(req, free);
  if (!best) return { ok: false, reason: unschedulableReason(req, free) };
  const gpus = best.gpus
    .filter((g) => gpuMatches(g.model, req.gpuModel))
    .slice(0, req.gpus)
    .map((g) => ({ index: g.index, uuid: g.uuid }));
  return { ok: true, nodeId: best.node.id, gpus };
}

/**
 * The feasible node with the highest score, the lowest id among equals. A CPU request looks at every
 * node. A GPU request looks at the mixed-model nodes, then at the one-model buckets from exactly
 * enough free GPUs upwards: a node in bucket k scores at most -(k - gpus) × 1000 (nothing of the app
 * on it, all its free GPUs of the wanted model), so the search stops at the first bucket that cannot
 * beat what it has, and within a bucket (sorted by id) at the first node that reaches that bound.
 */
function bestNode(req: ReplicaRequest, free: FreeCapacity): NodeFree | undefined {
  let best: NodeFree | undefined;
  let bestScore = -Infinity;
  const consider = (f: NodeFree): number | undefined => {
    if (!mayFit(f, req)) return undefined;
    const gpusFree = req.gpus > 0 ? matchingGpus(f, req.gpuModel) : 0;
    if (!fits(f, req, gpusFree)) return undefined;
    const s = score(f, req, gpusFree);
    if (s > bestScore || (s === bestScore && best && f.node.id < best.node.id)) {
      best = f;
      bestScore = s;
    }
    return s;
  };
  if (req.gpus === 0) {
    for (const f of free.values()) consider(f);
    return best;
  }
  for (const f of free.mixedNodes()) consider(f);
  for (let k = req.gpus; k < free.bucketCount; k++) {
    const bound = -(k - req.gpus) * 1000;
    if (bestScore > bound) break;
    for (const f of free.bucket(k)) if (consider(f) === bound) break;
  }
  return best;
}

/** Records a placement in the free capacity, so that the next decision sees it. */
export function reserve(
  free: FreeCapacity,
  req: ReplicaRequest,
  placed: { nodeId: string; gpus: Array<{ uuid: string }> },
): void {
  const f = free.get(placed.nodeId);
  if (!f) return;
  f.cpus -= req.cpu;
  f.memory -= req.memory;
  if (placed.gpus.length > 0) {
    const taken = new Set(placed.gpus.map((g) => g.uuid));
    f.gpus = f.gpus.filter((g) => !taken.has(g.uuid));
    free.update(f);
  }
  f.appReplicas.set(req.appId, (f.appReplicas.get(req.appId) ?? 0) + 1);
}

/** Gives a replica's resources back to its node (the counterpart of `reserve`); returns the node. */
export function release(
  free: FreeCapacity,
  r: Pick<ReplicaView, 'appId' | 'nodeId' | 'cpu' | 'memory'> & { gpus: ReadonlyArray<{ uuid: string }> },
): NodeFree | undefined {
  const f = free.get(r.nodeId);
  if (!f) return undefined;
  f.cpus += r.cpu;
  f.memory += r.memory;
  if (r.gpus.length > 0) {
    const back = new Set(r.gpus.map((g) => g.uuid));
    f.gpus = [...f.gpus, ...f.node.capacity.gpus.filter((g) => back.has(g.uuid))].sort(
      (a, b) => a.index - b.index,
    );
    free.update(f);
  }
  const held = (f.appReplicas.get(r.appId) ?? 0) - 1;
  if (held > 0) f.appReplicas.set(r.appId, held);
  else f.appReplicas.delete(r.appId);
  return f;
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
