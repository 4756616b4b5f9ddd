import { z } from 'zod';

import { normalizeRegistryUrl } from '../domain/registry.js';
import { IdSchema } from '../wire/common.js';
import { requiredOr } from './common.js';

/**
 * A registry address: `host[:port]` with an optional path (a Harbor project, a Docker Hub user),
 * with or without `https://`. Stored normalized (see normalizeRegistryUrl).
 */
export const RegistryUrlSchema = z
  .string({ error: requiredOr('must be a string') })
  .max(255, 'must be at most 255 characters')
  .transform(normalizeRegistryUrl)
  .pipe(
    z
      .string()
      .regex(
        /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
        'must be a registry address like registry.example.com, 127.0.0.1:5000 or harbor.example.com/project',
      )
      .refine((u) => {
        const port = /^[^/]*:(\d+)/.exec(u)?.[1];
        return port === undefined || (Number(port) >= 1 && Number(port) <= 65_535);
      }, 'must have a port from 1 to 65535'),
  );

const UsernameSchema = z
  .string({ error: requiredOr('must be a string') })
  .min(1, 'is required')
  .max(255, 'must be at most 255 characters')
  .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20), 'must not contain control characters')
  // Basic authentication splits user and password at the first colon.
  .refine((s) => !s.includes(':'), 'must not contain a colon');
const PasswordSchema = z
  .string({ error: requiredOr('must be a string') })
  .min(1, 'is required')
  .max(4096, 'must be at most 4096 characters')
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

/** The body of `POST /v1/registry` (reference `{url, username, password, region}`). */
export const CreateRegistryInputSchema = z.strictObject(
  {
    url: RegistryUrlSchema,
    username: UsernameSchema,
    password: PasswordSchema,
    /** Accepted for compatibility with the reference; Gantry has one region. */
    region: z.string({ error: 'must be a string' }).max(64, 'must be at most 64 characters').optional(),
    projectId: IdSchema.optional(),
  },
  { error: requiredOr('the body must be a JSON object') },
);
export type CreateRegistryInput = z.infer<typeof CreateRegistryInputSchema>;

/** The body of `PUT /v1/registry/{id}`: what changes. */
export const UpdateRegistryInputSchema = z
  .strictObject(
    {
      url: RegistryUrlSchema.optional(),
      username: UsernameSchema.optional(),
      password: PasswordSchema.optional(),
    },
    { error: requiredOr('the body must be a JSON object') },
  )
  .refine((b) => b.url !== undefined || b.username !== undefined || b.password !== undefined, {
    message: 'name at least one of url, username, password',
  });
export type UpdateRegistryInput = z.infer<typeof UpdateRegistryInputSchema>;

/**
 * A private registry's credentials (reference `Registry`), as the API shows them: never the password,
 * which is kept encrypted and only ever given to a node agent pulling an image of the project.
 */
export const RegistrySchema = z.strictObject({
  id: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Name of the token that registered it. */
  user: z.string(),
  region: z.string(),
  projectId: z.string(),
  url: z.string(),
  username: z.string(),
});
export type Registry = z.infer<typeof RegistrySchema>;

export const RegistryListSchema = z.strictObject({ items: z.array(RegistrySchema) });
export type RegistryList = z.infer<typeof RegistryListSchema>;

/** Path parameter of `/v1/registry/{id}`. */
export const RegistryIdSchema = z.uuid({ error: 'must be a registry id (a UUID)' });
