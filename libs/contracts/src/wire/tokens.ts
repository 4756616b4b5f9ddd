import { createHash } from 'node:crypto';

import { z } from 'zod';

import { IdSchema } from './common.js';

export const TOKEN_ROLES = ['read', 'operator', 'admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/**
 * KV `tokens`, key = SHA-256 (hex) of the token secret — api-gateway → ingress-router. What a bearer
 * token may reach: apps of `projectId` whose labels match `labelSelector` (`key=value`, all apps when
 * absent); `admin` reaches every app. Deleting the key revokes the token.
 */
export const TokenEntrySchema = z.strictObject({
  tokenId: IdSchema,
  projectId: IdSchema,
  role: z.enum(TOKEN_ROLES),
  labelSelector: z.string().max(512).optional(),
  version: z.int().min(1),
});
export type TokenEntry = z.infer<typeof TokenEntrySchema>;

/** The `tokens` key of a bearer secret: SHA-256, hex. The gateway writes it, the ingress looks it up. */
export const tokenKey = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');
