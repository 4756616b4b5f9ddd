import { type AppSpec, type AppState, replicasAtMost } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';

import type { Lifecycle } from './lifecycle.js';

/**
 * GPUs an app holds when all its replicas run — an automatic app's at its most (`replicasMax`), so that
 * the autoscaler never meets a quota it cannot scale within.
 */
export const gpusOf = (spec: AppSpec): number =>
  spec.resources.type === 'gpu' ? spec.resources.units * replicasAtMost(spec.scalingStrategy) : 0;

/** What of an app counts against the project's quota. */
export interface QuotaView {
  spec: AppSpec;
  lifecycle: Lifecycle;
  state: AppState;
}

/** Whether an app counts against its project's quota: asked to run, and not ended FAILED or ERROR. */
export const countsAgainstQuota = (a: Omit<QuotaView, 'spec'>): boolean =>
  a.lifecycle === 'RUNNING' && a.state !== 'FAILED' && a.state !== 'ERROR';

/** GPUs the apps that count against the quota hold (or will hold once running). */
export function gpusInUse(apps: readonly QuotaView[]): number {
  return apps.filter(countsAgainstQuota).reduce((sum, a) => sum + gpusOf(a.spec), 0);
}

/**
 * Refuses (403 QUOTA_EXCEEDED) an app whose GPUs would take the project past its quota
 * (DESIGN.md: 4 GPUs in use at once per project unless raised).
 */
export function assertGpuQuota(projectId: string, quota: number, inUse: number, spec: AppSpec): void {
  const needed = gpusOf(spec);
  if (needed === 0 || inUse + needed <= quota) return;
  throw new GantryError(
    'QUOTA_EXCEEDED',
    `project ${projectId} may hold ${quota} GPUs at once; ${inUse} are in use and this app needs ${needed}`,
    { details: { quota, inUse, needed } },
  );
}
