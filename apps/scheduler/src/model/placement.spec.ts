import { describe, expect, it } from '@jest/globals';

import {
  type FreeCapacity,
  freeCapacity,
  type NodeFree,
  placeReplica,
  release,
  reserve,
} from './placement.js';
import type { NodeView, ReplicaRequest, ReplicaView } from './types.js';

const GiB = 1024 ** 3;
const gpus = (node: string, n: number, model = 'NVIDIA H100 80GB HBM3') =>
  Array.from({ length: n }, (_, i) => ({ index: i, uuid: `GPU-${node}-${i}`, model, memory: 80 * 1024 }));
const node = (id: string, over: Partial<NodeView> & { gpuCount?: number; cpus?: number } = {}): NodeView => ({
  id,
  address: '127.0.0.1',
  health: 'READY',
  schedulable: true,
  draining: false,
  simulatedGpus: true,
  capacity: { cpus: over.cpus ?? 64, memory: 512 * GiB, gpus: gpus(id, over.gpuCount ?? 0) },
  ...over,
});
const replica = (id: string, nodeId: string, over: Partial<ReplicaView> = {}): ReplicaView => ({
  id,
  appId: 'other',
  nodeId,
  specVersion: 1,
  desired: 'RUN',
  cpu: 1,
  memory: GiB,
  units: 1,
  gpus: [],
  phase: 'READY',
  everReady: true,
  restarts: 0,
  reportSeq: 0,
  ...over,
});
const cpuReq = (cpu: number, appId = 'a'): ReplicaRequest => ({
  appId,
  type: 'cpu',
  cpu,
  memory: cpu * 4 * GiB,
  gpus: 0,
});
const gpuReq = (n: number, appId = 'a', gpuModel = 'H100'): ReplicaRequest => ({
  appId,
  type: 'gpu',
  cpu: n,
  memory: n * GiB,
  gpus: n,
  gpuModel,
});

describe('placement', () => {
  it('places a CPU replica on a ready node', () => {
    const r = placeReplica(cpuReq(1), freeCapacity([node('n1')], []));
    expect(r).toEqual({ ok: true, nodeId: 'n1', gpus: [] });
  });

  it.each<[string, NodeView[], ReplicaView[], ReplicaRequest, string]>([
    ['no nodes', [], [], cpuReq(1), 'no node has registered yet'],
    ['only a lost node', [node('n1', { health: 'LOST' })], [], cpuReq(1), 'no schedulable node is ready'],
    [
      'only a cordoned node',
      [node('n1', { schedulable: false })],
      [],
      cpuReq(1),
      'no schedulable node is ready',
    ],
    [
      'too few CPUs',
      [node('n1', { cpus: 2 })],
      [replica('x', 'n1', { cpu: 1.5 })],
      cpuReq(1),
      'needs 1 CPUs on one host; largest free on any schedulable host: 0.5',
    ],
    [
      'too few GPUs on any one host',
      [node('n1', { gpuCount: 1 }), node('n2', { gpuCount: 1 })],
      [],
      gpuReq(2),
      'needs 2 × H100 GPUs on one host; largest free on any schedulable host: 1',
    ],
    [
      'wrong GPU model',
      [
        node('n1', {
          capacity: { cpus: 64, memory: 512 * GiB, gpus: gpus('n1', 8, 'NVIDIA A100-SXM4-80GB') },
        }),
      ],
      [],
      gpuReq(1),
      'needs 1 × H100 GPUs on one host; largest free on any schedulable host: 0',
    ],
  ])('refuses with a reason naming the blocking resource: %s', (_, nodes, replicas, req, reason) => {
    expect(placeReplica(req, freeCapacity(nodes, replicas))).toEqual({ ok: false, reason });
  });

  it('binds free GPUs only, lowest index first', () => {
    const free = freeCapacity(
      [node('n1', { gpuCount: 4 })],
      [
        replica('x', 'n1', {
          gpus: [
            { index: 0, uuid: 'GPU-n1-0' },
            { index: 2, uuid: 'GPU-n1-2' },
          ],
        }),
      ],
    );
    expect(placeReplica(gpuReq(2), free)).toEqual({
      ok: true,
      nodeId: 'n1',
      gpus: [
        { index: 1, uuid: 'GPU-n1-1' },
        { index: 3, uuid: 'GPU-n1-3' },
      ],
    });
  });

  it('spreads replicas of one app across hosts', () => {
    const free = freeCapacity([node('n1'), node('n2'), node('n3')], [replica('a1', 'n1', { appId: 'a' })]);
    const first = placeReplica(cpuReq(1), free);
    expect(first.ok && first.nodeId).not.toBe('n1');
    if (first.ok) reserve(free, cpuReq(1), first);
    const second = placeReplica(cpuReq(1), free);
    expect(second.ok && [first.ok && first.nodeId, 'n1'].includes(second.nodeId)).toBe(false);
  });

  it('packs GPUs: a 1-GPU replica goes to the fullest host that fits, keeping a whole host free', () => {
    const free = freeCapacity(
      [node('n1', { gpuCount: 8 }), node('n2', { gpuCount: 8 })],
      [replica('x', 'n2', { gpus: gpus('n2', 6).map(({ index, uuid }) => ({ index, uuid })) })],
    );
    const r = placeReplica(gpuReq(1), free);
    expect(r.ok && r.nodeId).toBe('n2');
  });

  it('never binds one GPU twice across successive decisions', () => {
    const free = freeCapacity([node('n1', { gpuCount: 8 })], []);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const r = placeReplica(gpuReq(1, `app${i}`), free);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      for (const g of r.gpus) {
        expect(seen.has(g.uuid)).toBe(false);
        seen.add(g.uuid);
      }
      reserve(free, gpuReq(1, `app${i}`), r);
    }
    expect(placeReplica(gpuReq(1, 'late'), free).ok).toBe(false);
  });

  it('counts resources of replicas being stopped until they are gone', () => {
    const free = freeCapacity([node('n1', { cpus: 1 })], [replica('x', 'n1', { desired: 'STOP', cpu: 1 })]);
    expect(placeReplica(cpuReq(1), free).ok).toBe(false);
  });

  // The index (buckets by free GPU count) must choose exactly what looking at every node chooses:
  // this scan is the definition, the index only a faster way to the same answer.
  it('chooses exactly what a scan of every node chooses, on random fleets, through placements and releases', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const scan = (req: ReplicaRequest, free: FreeCapacity): string | undefined => {
      let best: NodeFree | undefined;
      let bestScore = -Infinity;
      for (const f of free.values()) {
        if (f.node.health !== 'READY' || !f.node.schedulable) continue;
        const wanted = req.gpuModel?.toLowerCase();
        const matching = f.gpus.filter((g) => !wanted || g.model.toLowerCase().includes(wanted)).length;
        if (f.cpus + 1e-9 < req.cpu || f.memory < req.memory || matching < req.gpus) continue;
        const leftover =
          req.gpus > 0 ? matching - req.gpus : (f.cpus - req.cpu) / Math.max(1, f.node.capacity.cpus);
        const s = -(f.appReplicas.get(req.appId) ?? 0) * 1_000_000 - leftover * 1000;
        if (s > bestScore || (s === bestScore && best && f.node.id < best.node.id)) {
          best = f;
          bestScore = s;
        }
      }
      return best?.node.id;
    };
    let decisions = 0;
    let placed = 0;
    for (let fleetNo = 0; fleetNo < 40; fleetNo++) {
      const nodes = Array.from({ length: 1 + Math.floor(rnd() * 40) }, (_, i) => {
        const id = `n${String(Math.floor(rnd() * 1000)).padStart(3, '0')}-${i}`;
        const count = pick([0, 1, 2, 4, 8, 8, 8]);
        // Mostly one model per host; some hosts mix two.
        const models =
          rnd() < 0.2
            ? ['NVIDIA H100 80GB HBM3', 'Tesla V100S-PCIE-32GB']
            : [pick(['NVIDIA H100 80GB HBM3', 'Tesla V100S-PCIE-32GB'])];
        return node(id, {
          health: rnd() < 0.1 ? pick(['NOT_READY', 'LOST'] as const) : 'READY',
          schedulable: rnd() > 0.1,
          cpus: pick([8, 32, 64]),
          capacity: {
            cpus: pick([8, 32, 64]),
            memory: pick([64, 512]) * GiB,
            gpus: Array.from({ length: count }, (_, g) => ({
              index: g,
              uuid: `GPU-${id}-${g}`,
              model: models[g % models.length] as string,
              memory: 80 * 1024,
            })),
          },
        });
      });
      const free = freeCapacity(nodes, []);
      const held: Array<{
        nodeId: string;
        req: ReplicaRequest;
        gpus: Array<{ index: number; uuid: string }>;
      }> = [];
      for (let step = 0; step < 120; step++) {
        if (held.length > 0 && rnd() < 0.25) {
          // A replica goes away: its node gets its resources back.
          const [gone] = held.splice(Math.floor(rnd() * held.length), 1);
          if (!gone) continue;
          release(free, {
            appId: gone.req.appId,
            nodeId: gone.nodeId,
            cpu: gone.req.cpu,
            memory: gone.req.memory,
            gpus: gone.gpus,
          });
          continue;
        }
        const appId = pick(['a', 'b', 'c', 'd']);
        const kind = rnd();
        const gpu = gpuReq(pick([1, 1, 2, 4, 8]), appId, pick(['H100', 'V100S', 'H100']));
        // Some GPU requests take any model: every free GPU of a node counts, mixed or not.
        const { gpuModel: _anyModel, ...anyModel } = gpu;
        const req = kind < 0.15 ? cpuReq(pick([1, 2, 4]), appId) : kind < 0.3 ? anyModel : gpu;
        const expected = scan(req, free);
        const r = placeReplica(req, free);
        decisions++;
        expect(r.ok ? r.nodeId : undefined).toBe(expected);
        if (!r.ok) continue;
        placed++;
        reserve(free, req, r);
        held.push({ nodeId: r.nodeId, req, gpus: r.gpus });
      }
    }
    // The walk must have exercised both outcomes many times.
    expect(placed).toBeGreaterThan(500);
    expect(decisions - placed).toBeGreaterThan(500);
  });
});
