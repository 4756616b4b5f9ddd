import { z } from 'zod';

import { requiredOr } from './common.js';

export const ProjectIdSchema = z
  .string({ error: requiredOr('must be a string') })
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits and -, starting alphanumeric');

/**
 * The quotas of a project, by the name errors and usage give them: `CPU` and `GPU` (the units of the
 * apps of that compute type, all their replicas counted), `memory` (bytes of the CPU apps' replicas),
 * `apps` (not deleted) and `tokens`.
 */
export const QUOTA_NAMES = ['CPU', 'GPU', 'memory', 'apps', 'tokens'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

/** A project's quotas as fields of its API objects, with the default of each and the largest an admin may set. */
export const QUOTA_FIELDS = {
  cpuQuota: { quota: 'CPU', default: 32, max: 1_000_000, unit: 'CPUs' },
  gpuQuota: { quota: 'GPU', default: 4, max: 10_000, unit: 'GPUs' },
  memoryQuota: { quota: 'memory', default: 128 * 1024 ** 3, max: 1024 ** 5, unit: 'bytes' },
  appQuota: { quota: 'apps', default: 50, max: 100_000, unit: 'apps' },
  tokenQuota: { quota: 'tokens', default: 100, max: 100_000, unit: 'tokens' },
} as const satisfies Record<string, { quota: QuotaName; default: number; max: number; unit: string }>;
export type QuotaField = keyof typeof QUOTA_FIELDS;

const quotaInput = (field: QuotaField) => {
  const { max, unit } = QUOTA_FIELDS[field];
  return z
    .int({ error: requiredOr(`must be a whole number of ${unit}`) })
    .min(0, 'must be at least 0')
    .max(max, `must be at most ${max}`);
};

/** Every quota of a project as an optional input field (creating and changing a project). */
const quotaInputs = {
  cpuQuota: quotaInput('cpuQuota').optional(),
  gpuQuota: quotaInput('gpuQuota').optional(),
  memoryQuota: quotaInput('memoryQuota').optional(),
  appQuota: quotaInput('appQuota').optional(),
  tokenQuota: quotaInput('tokenQuota').optional(),
};

/** The body of `POST /v1/project` (admin tokens only); quotas not given take their default. */
export const CreateProjectInputSchema = z.strictObject(
  {
    id: ProjectIdSchema.optional(),
    name: z
      .string({ error: requiredOr('must be a string') })
      .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,127}$/, 'must be 1-128 letters, digits, spaces, _ . -'),
    ...quotaInputs,
  },
  { error: requiredOr('the body must be a JSON object') },
);
export type CreateProjectInput = z.infer<typeof CreateProjectInputSchema>;

/** A project: the tenant that owns apps and tokens, with its quotas. */
export const ProjectSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  /** CPUs the project's CPU apps may hold at once (every replica of each counted). */
  cpuQuota: z.int().min(0),
  /** GPUs the project's apps may hold at once. */
  gpuQuota: z.int().min(0),
  /** Bytes of memory the project's CPU apps may hold at once. */
  memoryQuota: z.int().min(0),
  /** Apps the project may have (every app not deleted, running or not). */
  appQuota: z.int().min(0),
  /** Tokens the project may have. */
  tokenQuota: z.int().min(0),
  createdAt: z.string(),
});
export type Project = z.infer<typeof ProjectSchema>;

export const ProjectListSchema = z.strictObject({ items: z.array(ProjectSchema) });

/**
 * The body of `PUT /v1/project/{id}/quota` (admin tokens only): the quotas to change, at least one;
 * the others keep their value.
 */
export const UpdateProjectQuotaInputSchema = z
  .strictObject(quotaInputs, {
    error: requiredOr('the body must be a JSON object like {"gpuQuota": 8}'),
  })
  .refine(
    (v) => Object.values(v).some((x) => x !== undefined),
    `give at least one of ${Object.keys(QUOTA_FIELDS).join(', ')}`,
  );
export type UpdateProjectQuotaInput = z.infer<typeof UpdateProjectQuotaInputSchema>;

/** A project's limits, by quota name (memory in bytes). */
export const QuotaLimitsSchema = z.strictObject({
  CPU: z.int().min(0),
  GPU: z.int().min(0),
  memory: z.int().min(0),
  apps: z.int().min(0),
  tokens: z.int().min(0),
});
export type QuotaLimits = z.infer<typeof QuotaLimitsSchema>;

/** What counts against each quota now (CPUs may be fractional: a flavor may give part of one). */
export const QuotaUsageSchema = QuotaLimitsSchema.extend({ CPU: z.number().min(0) });
export type QuotaUsage = z.infer<typeof QuotaUsageSchema>;
