import { z } from 'zod';

import { AppStateSchema } from '../domain/app-spec.js';
import { IdSchema, IsoDateSchema } from './common.js';

/**
 * KV `routes`, key = app id — scheduler → ingress-router. How to reach an app, and whether to.
 * Only replicas that passed their readiness probe are listed in `endpoints`.
 */
export const RouteEntrySchema = z.strictObject({
  appId: IdSchema,
  projectId: IdSchema,
  version: z.int().min(1),
  updatedAt: IsoDateSchema,
  state: AppStateSchema,
  unsecureHttp: z.boolean(),
  labels: z.record(z.string(), z.string()),
  httpPort: z.int(),
  grpcPort: z.int().optional(),
  /**
   * An automatic app that may run no replica (`replicasMin: 0`): a request arriving while it has no
   * ready replica is held while the app wakes, rather than refused.
   */
  wakeable: z.boolean().optional(),
  /** Container ports reachable as `<appId>-<port>`. */
  ports: z.array(z.int()),
  endpoints: z.array(
    z.strictObject({
      replicaId: IdSchema,
      nodeId: IdSchema,
      address: z.string(),
      /** container port → host port */
      ports: z.record(z.string(), z.int()),
    }),
  ),
});
export type RouteEntry = z.infer<typeof RouteEntrySchema>;
