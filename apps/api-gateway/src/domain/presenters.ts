import {
  type App,
  type Flavor,
  type FlavorOutput,
  formatMicros,
  type Project,
  type Registry,
  type Token,
  type UsageOutput,
  type UsageQuery,
  type UsageResult,
} from '@gantry/contracts';

import type { AppRow, ProjectRow, RegistryRow, TokenRow } from '../store/entities.js';

/** The app's URL: the template with `{id}` replaced. */
export const appUrl = (template: string, id: string): string => template.replaceAll('{id}', id);

/** An app row as the API shows it (reference §2.3 `App`). */
export function toApp(row: AppRow, urlTemplate: string): App {
  return {
    id: row.id,
    projectId: row.projectId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    user: row.createdBy,
    spec: row.spec,
    status: {
      state: row.state,
      availableReplicas: row.availableReplicas,
      ...(row.desiredReplicas !== null && row.desiredReplicas !== undefined
        ? { desiredReplicas: row.desiredReplicas }
        : {}),
      url: appUrl(urlTemplate, row.id),
      info: row.info,
      history: row.history,
      lastTransitionDate: row.lastTransitionAt.toISOString(),
    },
  };
}

/** A token as the API shows it; `secret` only right after creation or renewal. */
export function toToken(row: TokenRow, secret?: string): Token {
  return {
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    spec: {
      name: row.name,
      role: row.role,
      ...(row.labelSelector ? { labelSelector: row.labelSelector } : {}),
      projectId: row.projectId,
    },
    status: { ...(secret ? { value: secret } : {}), version: row.version },
  };
}

/** A private registry as the API shows it: never its password. */
export function toRegistry(row: RegistryRow): Registry {
  return {
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    user: row.createdBy,
    region: row.region,
    projectId: row.projectId,
    url: row.url,
    username: row.username,
  };
}

export function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    name: row.name,
    cpuQuota: row.cpuQuota,
    gpuQuota: row.gpuQuota,
    memoryQuota: row.memoryQuota,
    appQuota: row.appQuota,
    tokenQuota: row.tokenQuota,
    createdAt: row.createdAt.toISOString(),
  };
}

/** A flavor with its price also as a decimal string. */
export function toFlavorOutput(f: Flavor): FlavorOutput {
  return { ...f, price: { ...f.price, unitPrice: formatMicros(f.price.unitPriceMicros), per: 'unit-hour' } };
}

/** billing-meter's usage with every amount also rendered as a decimal string. */
export function toUsageOutput(result: UsageResult, query: UsageQuery): UsageOutput {
  return {
    asOf: result.asOf,
    ...(query.projectId ? { projectId: query.projectId } : {}),
    ...(query.appId ? { appId: query.appId } : {}),
    ...(query.from ? { from: query.from } : {}),
    ...(query.to ? { to: query.to } : {}),
    runs: result.runs.map((run) => ({
      ...run,
      unitPrice: formatMicros(run.unitPriceMicros),
      charge: formatMicros(run.chargeMicros),
      periods: run.periods.map((p) => ({ ...p, charge: formatMicros(p.chargeMicros) })),
    })),
    totals: result.totals.map((t) => ({ ...t, charge: formatMicros(t.chargeMicros) })),
  };
}
