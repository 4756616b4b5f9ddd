import { automaticOf, type RouteEntry } from '@gantry/contracts';

import type { AppView, NodeView, ReplicaView } from './types.js';

/**
 * The route of an app: only replicas that are assigned, ready, with an endpoint, on a READY node.
 * Everything but version/updatedAt, which the store sets when the content changes.
 */
export function routeFor(
  app: AppView,
  replicas: readonly ReplicaView[],
  nodes: ReadonlyMap<string, NodeView>,
): Omit<RouteEntry, 'version' | 'updatedAt'> {
  const endpoints = replicas
    .filter(
      (r) =>
        r.desired === 'RUN' && r.phase === 'READY' && r.endpoint && nodes.get(r.nodeId)?.health === 'READY',
    )
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((r) => ({
      replicaId: r.id,
      nodeId: r.nodeId,
      address: r.endpoint?.address ?? '',
      ports: r.endpoint?.ports ?? {},
    }));
  const ports = new Set<number>([app.spec.defaultHttpPort]);
  if (app.spec.grpcPort) ports.add(app.spec.grpcPort);
  for (const e of endpoints) for (const p of Object.keys(e.ports)) ports.add(Number(p));
  return {
    appId: app.id,
    projectId: app.projectId,
    state: app.state,
    unsecureHttp: app.spec.unsecureHttp,
    ...(automaticOf(app.spec.scalingStrategy)?.replicasMin === 0 ? { wakeable: true } : {}),
    labels: app.spec.labels,
    httpPort: app.spec.defaultHttpPort,
    ...(app.spec.grpcPort ? { grpcPort: app.spec.grpcPort } : {}),
    ports: [...ports].sort((a, b) => a - b),
    endpoints,
  };
}
