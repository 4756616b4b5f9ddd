import { IdSchema } from '@gantry/contracts';

import type { ContainerState, ContainerSummary, Owner } from '../driver/driver.js';

/**
 * Labels on every container the agent creates. They are how it finds its containers after a restart,
 * so they are on-disk state: renaming one orphans every running container.
 */
export const LABELS = {
  namespace: 'gantry.namespace',
  node: 'gantry.node',
  replica: 'gantry.replica',
  app: 'gantry.app',
  project: 'gantry.project',
  generation: 'gantry.generation',
} as const;

export const containerName = (namespace: string, replicaId: string): string =>
  `gantry-${namespace}-${replicaId}`;

export function ownerLabels(
  owner: Owner,
  r: { replicaId: string; appId: string; projectId: string },
  generation: number,
): Record<string, string> {
  return {
    [LABELS.namespace]: owner.namespace,
    [LABELS.node]: owner.nodeId,
    [LABELS.replica]: r.replicaId,
    [LABELS.app]: r.appId,
    [LABELS.project]: r.projectId,
    [LABELS.generation]: String(generation),
  };
}

/** A container as convergence sees it. Label values are untrusted: ids that are not ids are dropped. */
export interface ObservedContainer {
  id: string;
  /** Undefined when the label is missing or not an id: such a container is an orphan. */
  replicaId?: string;
  appId?: string;
  state: ContainerState;
  createdAt: number;
}

const asId = (v: string | undefined): string | undefined =>
  v !== undefined && IdSchema.safeParse(v).success ? v : undefined;

export function observe(c: ContainerSummary): ObservedContainer {
  const replicaId = asId(c.labels[LABELS.replica]);
  const appId = asId(c.labels[LABELS.app]);
  return {
    id: c.id,
    ...(replicaId ? { replicaId } : {}),
    ...(appId ? { appId } : {}),
    state: c.state,
    createdAt: c.createdAt,
  };
}
