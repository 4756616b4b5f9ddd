import { z } from 'zod';

import { IdSchema } from '../wire/common.js';
import { TOKEN_ROLES } from '../wire/tokens.js';
import { LABEL_SELECTOR, requiredOr } from './common.js';

export const TokenNameSchema = z
  .string({ error: requiredOr('must be a string') })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . -, starting alphanumeric');

/** The body of `POST /v1/token`. `projectId` defaults to the caller's project. */
export const CreateTokenInputSchema = z.strictObject(
  {
    name: TokenNameSchema,
    role: z.enum(TOKEN_ROLES, { error: `must be one of ${TOKEN_ROLES.join(', ')}` }),
    labelSelector: z
      .string({ error: 'must be a string' })
      .regex(LABEL_SELECTOR, 'must be key=value, e.g. team=vision or gantry/id=<app id>')
      .optional(),
    projectId: IdSchema.optional(),
  },
  { error: requiredOr('the body must be a JSON object') },
);
export type CreateTokenInput = z.infer<typeof CreateTokenInputSchema>;

/**
 * A bearer token (reference §2.3 `Token`). The secret (`status.value`) is returned once, when the
 * token is created or renewed; Gantry keeps only its SHA-256.
 */
export const TokenSchema = z.strictObject({
  id: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  spec: z.strictObject({
    name: z.string(),
    role: z.enum(TOKEN_ROLES),
    labelSelector: z.string().optional(),
    projectId: z.string(),
  }),
  status: z.strictObject({ value: z.string().optional(), version: z.int().min(1) }),
});
export type Token = z.infer<typeof TokenSchema>;

export const TokenListSchema = z.strictObject({ items: z.array(TokenSchema) });
export type TokenList = z.infer<typeof TokenListSchema>;

/** Path parameter of `/v1/token/{id}`. */
export const TokenIdSchema = z.uuid({ error: 'must be a token id (a UUID)' });
