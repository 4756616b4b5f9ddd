import type { ReplicaAssignment } from '@gantry/contracts';

import type { ContainerSpec, Owner } from '../driver/driver.js';
import { containerName, ownerLabels } from './ownership.js';

/** Every app runs as this user and group (reference §7). */
export const APP_USER = '42420:42420';

export type GpuMode = 'real' | 'simulated' | 'none';

/** What the node contributes to a container's definition. */
export interface NodeFacts {
  owner: Owner;
  /** Address app ports are published on. */
  address: string;
  /** The host's real core count: the CPU limit cannot exceed it. */
  realCpus: number;
  gpuMode: GpuMode;
}

/** Container ports a replica publishes: its ports, then the probe port if not among them. */
export function publishedPorts(a: ReplicaAssignment): number[] {
  return [...new Set([...a.ports, a.probe.port])];
}

/**
 * The container of a replica: UID:GID 42420:42420, no new privileges, CPU (clamped to the host's
 * cores), memory and pids limits, every port published on the node address, the owner labels, the
 * app's environment plus GANTRY_APP_ID / GANTRY_REPLICA_ID (which the app cannot override), and its
 * GPUs — device requests for real ones, NVIDIA_VISIBLE_DEVICES alone for simulated ones. On a host with
 * real GPUs a replica without any gets NVIDIA_VISIBLE_DEVICES=void so that a CUDA image's default
 * (`all`) cannot expose the host's GPUs.
 */
export function containerSpecFor(a: ReplicaAssignment, generation: number, node: NodeFacts): ContainerSpec {
  const env: Record<string, string> = {};
  for (const v of a.envVars) env[v.name] = v.value;
  env['GANTRY_APP_ID'] = a.appId;
  env['GANTRY_REPLICA_ID'] = a.replicaId;
  const uuids = a.gpus.map((g) => g.uuid);
  if (uuids.length && node.gpuMode === 'simulated') env['NVIDIA_VISIBLE_DEVICES'] = uuids.join(',');
  else if (!uuids.length && node.gpuMode === 'real') env['NVIDIA_VISIBLE_DEVICES'] = 'void';
  const cpus = Math.max(0.01, Math.min(a.resources.cpu, node.realCpus));
  return {
    name: containerName(node.owner.namespace, a.replicaId),
    image: a.image,
    labels: ownerLabels(node.owner, a, generation),
    user: APP_USER,
    env,
    ...(a.command?.length ? { command: [...a.command] } : {}),
    cpus: Math.round(cpus * 100) / 100,
    memory: a.resources.memory,
    pidsLimit: a.resources.pids,
    ports: publishedPorts(a),
    hostIp: node.address,
    gpus: uuids.length && node.gpuMode !== 'simulated' ? { kind: 'devices', uuids } : { kind: 'none' },
    noNewPrivileges: true,
  };
}
