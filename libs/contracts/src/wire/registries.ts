import { z } from 'zod';

import { IdSchema } from './common.js';

/**
 * `query.registry-auth.v1` — node-agent → api-gateway, before pulling an image it does not have:
 * the credentials of the project's registry that covers the image (see registryFor), if any.
 * Answered over core NATS, never stored in a stream or a bucket.
 */
export const RegistryAuthQuerySchema = z.strictObject({
  projectId: IdSchema,
  image: z.string().min(1).max(512),
});
export type RegistryAuthQuery = z.infer<typeof RegistryAuthQuerySchema>;

export const RegistryAuthResultSchema = z.strictObject({
  auth: z
    .strictObject({
      /** The stored address that matched (normalized). */
      url: z.string(),
      /** What Docker authenticates against: the address's host. */
      serverAddress: z.string(),
      username: z.string(),
      password: z.string(),
    })
    .optional(),
});
export type RegistryAuthResult = z.infer<typeof RegistryAuthResultSchema>;
