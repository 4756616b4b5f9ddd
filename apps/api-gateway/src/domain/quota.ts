import {
  type AppSpec,
  type AppState,
  QUOTA_FIELDS,
  QUOTA_NAMES,
  type QuotaField,
  type QuotaLimits,
  type QuotaName,
  type QuotaUsage,
  replicasAtMost,
} from '@gantry/contracts';
import { GantryError } from '@gantry/errors';

import type { Lifecycle } from './lifecycle.js';

/** A project's limits by quota name, from its quota fields (`gpuQuota` → `GPU`). */
export function limitsOf(project: Readonly<Record<QuotaField, number>>): QuotaLimits {
  const limits = { CPU: 0, GPU: 0, memory: 0, apps: 0, tokens: 0 };
  for (const [field, { quota }] of Object.entries(QUOTA_FIELDS)) limits[quota] = project[field as QuotaField];
  return limits;
}

/** The quotas an app's resources count against. */
export type Holdings = Pick<QuotaUsage, 'CPU' | 'GPU' | 'memory'>;

/**
 * What an app holds when all its replicas run — an automatic app's at its most (`replicasMax`), so
 * that the autoscaler never meets a quota it cannot scale within. Quotas are per compute type, as
 * the reference's: a CPU app counts its CPUs and memory, a GPU app its GPUs — the CPUs and memory
 * that come with each GPU of its flavor are bounded by the GPU quota (a single H100 brings 350 GiB,
 * more than the default memory quota).
 */
export function holdingsOf(spec: AppSpec): Holdings {
  const replicas = replicasAtMost(spec.scalingStrategy);
  const r = spec.resources;
  return r.type === 'gpu'
    ? { CPU: 0, GPU: r.units * replicas, memory: 0 }
    : { CPU: cpus(r.cpu * replicas), GPU: 0, memory: r.memory * replicas };
}

/** What of an app counts against the project's quota. */
export interface QuotaView {
  spec: AppSpec;
  lifecycle: Lifecycle;
  state: AppState;
}

/** Whether an app counts against its project's quota: asked to run, and not ended FAILED or ERROR. */
export const countsAgainstQuota = (a: Omit<QuotaView, 'spec'>): boolean =>
  a.lifecycle === 'RUNNING' && a.state !== 'FAILED' && a.state !== 'ERROR';

/** What the apps that count against the quota hold (or will hold once running). */
export function holdingsInUse(apps: readonly QuotaView[]): Holdings {
  const sum: Holdings = { CPU: 0, GPU: 0, memory: 0 };
  for (const a of apps.filter(countsAgainstQuota)) {
    const h = holdingsOf(a.spec);
    sum.CPU += h.CPU;
    sum.GPU += h.GPU;
    sum.memory += h.memory;
  }
  return { ...sum, CPU: cpus(sum.CPU) };
}

/**
 * What to check when an app holding `current` (undefined: it counts for nothing yet) is to hold
 * `next`: only what grows, so that a change that holds no more of something passes even when a
 * lowered quota is already exceeded.
 */
export function growth(current: Holdings | undefined, next: Holdings): Partial<Holdings> {
  const out: Partial<Holdings> = {};
  for (const k of ['CPU', 'GPU', 'memory'] as const) if (next[k] > (current?.[k] ?? 0)) out[k] = next[k];
  return out;
}

/**
 * Refuses (403 QUOTA_EXCEEDED) a request that would take the project past one of its quotas: for each
 * quota `needed` names (and needs some of), `inUse` (what counts without the request's subject) plus
 * `needed` must stay within `limits`. The error names the first quota exceeded (in QUOTA_NAMES order)
 * and gives `{quota, limit, inUse, needed}` in its details.
 */
export function assertWithinQuota(
  projectId: string,
  limits: QuotaLimits,
  inUse: Partial<QuotaUsage>,
  needed: Partial<QuotaUsage>,
): void {
  for (const quota of QUOTA_NAMES) {
    const need = needed[quota] ?? 0;
    const used = inUse[quota] ?? 0;
    const limit = limits[quota];
    if (need <= 0 || cpus(used + need) <= limit) continue;
    throw new GantryError('QUOTA_EXCEEDED', quotaMessage(projectId, quota, limit, used, need), {
      details: { quota, limit, inUse: used, needed: need },
    });
  }
}

function quotaMessage(
  projectId: string,
  quota: QuotaName,
  limit: number,
  used: number,
  need: number,
): string {
  const p = `project ${projectId}`;
  switch (quota) {
    case 'CPU':
    case 'GPU':
      return `${p} may hold ${limit} ${quota}s at once; ${used} are in use and this app needs ${need}`;
    case 'memory':
      return `${p} may hold ${bytes(limit)} of memory at once; ${bytes(used)} are in use and this app needs ${bytes(need)}`;
    case 'apps':
      return `${p} may have ${limit} apps; it has ${used}: delete one before creating another`;
    case 'tokens':
      return `${p} may have ${limit} tokens; it has ${used}: revoke one before creating another`;
  }
}

/** Sums of fractional CPUs come out as 2.9999999999999996: three decimals are plenty (whole numbers stay). */
const cpus = (n: number): number => Math.round(n * 1000) / 1000;

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Bytes for a person: 137438953472 → "128 GiB", 1610612736 → "1.5 GiB". */
export function bytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Math.round(v * 100) / 100} ${UNITS[i]}`;
}
