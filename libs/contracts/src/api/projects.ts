import { z } from 'zod';

import { requiredOr } from './common.js';

export const ProjectIdSchema = z
  .string({ error: requiredOr('must be a string') })
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits and -, starting alphanumeric');

/** The body of `POST /v1/project` (admin tokens only). */
export const CreateProjectInputSchema = z.strictObject(
  {
    id: ProjectIdSchema.optional(),
    name: z
      .string({ error: requiredOr('must be a string') })
      .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,127}$/, 'must be 1-128 letters, digits, spaces, _ . -'),
    gpuQuota: z.int({ error: 'must be a whole number' }).min(0).max(10_000).optional(),
  },
  { error: requiredOr('the body must be a JSON object') },
);
export type CreateProjectInput = z.infer<typeof CreateProjectInputSchema>;

/** A project: the tenant that owns apps and tokens, with its quotas. */
export const ProjectSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  /** GPUs the project's apps may hold at once. */
  gpuQuota: z.int().min(0),
  createdAt: z.string(),
});
export type Project = z.infer<typeof ProjectSchema>;

export const ProjectListSchema = z.strictObject({ items: z.array(ProjectSchema) });

/** The body of `PUT /v1/project/{id}/quota` (admin tokens only): GPUs the project may hold at once. */
export const UpdateProjectQuotaInputSchema = z.strictObject(
  {
    gpuQuota: z
      .int({ error: requiredOr('must be a whole number of GPUs') })
      .min(0, 'must be at least 0')
      .max(10_000, 'must be at most 10000'),
  },
  { error: requiredOr('the body must be a JSON object like {"gpuQuota": 8}') },
);
export type UpdateProjectQuotaInput = z.infer<typeof UpdateProjectQuotaInputSchema>;
