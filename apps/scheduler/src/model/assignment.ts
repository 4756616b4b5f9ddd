import type { ReplicaAssignment } from '@gantry/contracts';

import type { AppView, ReplicaView } from './types.js';

const PIDS_LIMIT = 4096;

/** What a node must run for a replica, fixed from the app's spec when the replica is created. */
export function assignmentFor(app: AppView, r: ReplicaView): ReplicaAssignment {
  const s = app.spec;
  const ports = [...new Set([s.defaultHttpPort, ...(s.grpcPort ? [s.grpcPort] : []), s.probe.port])];
  return {
    replicaId: r.id,
    appId: app.id,
    projectId: app.projectId,
    image: s.image,
    ...(s.command ? { command: s.command } : {}),
    envVars: s.envVars,
    ports,
    probe: s.probe,
    resources: { cpu: r.cpu, memory: r.memory, pids: PIDS_LIMIT },
    gpus: r.gpus,
  };
}
