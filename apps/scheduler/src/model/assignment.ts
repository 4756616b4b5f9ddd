import type { AppState, ReplicaAssignment } from '@gantry/contracts';

import type { AppView, ReplicaView } from './types.js';

const PIDS_LIMIT = 4096;

/**
 * What a node must run for a replica, fixed from the app's spec when the replica is created.
 * `refreshImage`: the replica is among the first of a run of the app (see `placedAtStart`), so its
 * node checks the registry for a newer image under the tag.
 */
export function assignmentFor(
  app: AppView,
  r: ReplicaView,
  opts: { refreshImage?: boolean } = {},
): ReplicaAssignment {
  const s = app.spec;
  const probed = [s.probe.port, ...(s.probe.liveness ? [s.probe.liveness.port] : [])];
  const ports = [...new Set([s.defaultHttpPort, ...(s.grpcPort ? [s.grpcPort] : []), ...probed])];
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
    ...(opts.refreshImage ? { refreshImage: true } : {}),
  };
}

/**
 * Whether replicas placed in a pass that begins with the app in `state` start a run of it (after
 * create, or start after stop): those look for a newer image under the tag ("push the same tag, then
 * stop/start" updates an app). Replicas added later — scaling up, replacing one — do not: every
 * replica of a run runs the image it started with.
 */
export const placedAtStart = (state: AppState): boolean =>
  state === 'QUEUED' || state === 'INITIALIZING' || state === 'STOPPED';
