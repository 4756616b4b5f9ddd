import type { NodeRecord, NodeState } from '@gantry/contracts';

import type { NodeView, ReplicaView } from './types.js';

/** What operators see of a node: health first, then their own decision. Pure. */
export function nodeState(node: NodeView): NodeState {
  if (node.health !== 'READY') return node.health;
  if (node.draining) return 'DRAINING';
  if (!node.schedulable) return 'CORDONED';
  return 'READY';
}

/** A node's record: capacity, what its replicas hold, and which app holds which GPU. */
export function nodeRecord(
  node: NodeView,
  extra: { labels: Record<string, string>; lastHeartbeatAt: string },
  replicas: readonly ReplicaView[],
): NodeRecord {
  const holder = new Map<string, ReplicaView>();
  for (const r of replicas) for (const g of r.gpus) holder.set(g.uuid, r);
  return {
    id: node.id,
    address: node.address,
    state: nodeState(node),
    schedulable: node.schedulable,
    draining: node.draining,
    simulatedGpus: node.simulatedGpus,
    labels: extra.labels,
    lastHeartbeatAt: extra.lastHeartbeatAt,
    capacity: { cpus: node.capacity.cpus, memory: node.capacity.memory, gpus: node.capacity.gpus.length },
    allocated: {
      cpus: replicas.reduce((s, r) => s + r.cpu, 0),
      memory: replicas.reduce((s, r) => s + r.memory, 0),
      gpus: replicas.reduce((s, r) => s + r.gpus.length, 0),
    },
    gpus: node.capacity.gpus.map((g) => {
      const r = holder.get(g.uuid);
      return { ...g, ...(r ? { appId: r.appId, replicaId: r.id } : {}) };
    }),
    replicas: replicas.map((r) => ({ replicaId: r.id, appId: r.appId, phase: r.phase, units: r.units })),
  };
}
