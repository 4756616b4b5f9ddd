import { z } from 'zod';

import { FlavorSchema } from '../domain/flavor.js';
import { TOKEN_ROLES } from '../wire/tokens.js';
import { queryString } from './common.js';
import { QuotaLimitsSchema, QuotaUsageSchema } from './projects.js';

/**
 * A flavor as `GET /v1/capabilities/flavor` returns it: the reference's `Flavor` (§2.3) plus its
 * price per unit-hour, in micro-units and as a decimal string.
 */
export const FlavorOutputSchema = FlavorSchema.extend({
  price: z.strictObject({
    unitPriceMicros: z.int().min(0),
    /** Decimal rendering of `unitPriceMicros`, e.g. "1.93". */
    unitPrice: z.string(),
    currency: z.string().length(3),
    per: z.literal('unit-hour'),
  }),
});
export type FlavorOutput = z.infer<typeof FlavorOutputSchema>;

export const FlavorListSchema = z.array(FlavorOutputSchema);

/** Path parameter of `/v1/capabilities/flavor/{id}`. */
export const FlavorIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a flavor id like ai1-1-cpu');

/** A project's quotas (reference `ProjectQuotas`) and what is in use against them. */
export const QuotaSchema = z.strictObject({
  projectId: z.string(),
  /**
   * The project's limits: CPUs and GPUs (per compute type, as the reference's), memory (bytes), apps
   * and tokens.
   */
  resources: QuotaLimitsSchema,
  /**
   * What counts against each now: CPUs, GPUs and memory of the apps that are (or are asked to be)
   * running, every replica counted (an automatic app's at `replicasMax`); apps not deleted; tokens.
   */
  inUse: QuotaUsageSchema,
  storage: z.int().min(0),
});
export type Quota = z.infer<typeof QuotaSchema>;

/** Query of `GET /v1/capabilities/quota` and `GET /v1/me`: admins may name another project. */
export const ProjectScopeQuerySchema = z.strictObject({
  projectId: queryString()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'must be a project id')
    .optional(),
});

/** `GET /v1/me`: who the bearer token is (reference `Me`). */
export const MeSchema = z.strictObject({
  /** The token's name. */
  name: z.string(),
  tokenId: z.string(),
  /** The token's project. */
  tenant: z.string(),
  project: z.strictObject({ id: z.string(), name: z.string() }),
  role: z.enum(TOKEN_ROLES),
  tokenKind: z.literal('bearer'),
  labelSelector: z.string().optional(),
  quotas: QuotaSchema,
});
export type Me = z.infer<typeof MeSchema>;
