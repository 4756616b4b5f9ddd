import { z } from 'zod';

import { DeadLetterSchema } from '../wire/dead-letter.js';
import { queryInt, queryString } from './common.js';

/** A dead letter's id: its sequence in the dead-letter stream. */
export const DeadLetterIdSchema = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

/** One dead letter as `GET /v1/admin/dlq` shows it (the payload is in `data`). */
export const DeadLetterEntrySchema = DeadLetterSchema.extend({ id: DeadLetterIdSchema });
export type DeadLetterEntry = z.infer<typeof DeadLetterEntrySchema>;

/** Query of `GET /v1/admin/dlq`: letters after `after` (an id), oldest first, `limit` of them. */
export const DeadLetterListQuerySchema = z.strictObject({
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: queryInt(1, 500).default(50),
  /** Only letters of this logical subject (`app.status.v2`). */
  subject: queryString()
    .regex(/^[a-z0-9.-]{1,100}$/, 'must be a subject such as app.status.v2')
    .optional(),
});
export type DeadLetterListQuery = z.infer<typeof DeadLetterListQuerySchema>;

/** `GET /v1/admin/dlq` (admin tokens only): a page of dead letters and where the next page starts. */
export const DeadLetterPageSchema = z.strictObject({
  items: z.array(DeadLetterEntrySchema),
  /** Pass as `after` for the next page; absent on the last page. */
  next: DeadLetterIdSchema.optional(),
  /** Letters in the dead-letter stream, all subjects. */
  total: z.int().min(0),
});
export type DeadLetterPage = z.infer<typeof DeadLetterPageSchema>;

/**
 * `POST /v1/admin/dlq/replay`: which letters to replay — these ids, every letter of a subject, or all
 * of them (exactly one).
 */
export const ReplayDeadLettersInputSchema = z
  .strictObject({
    ids: z.array(DeadLetterIdSchema).min(1).max(1000).optional(),
    subject: z
      .string()
      .regex(/^[a-z0-9.-]{1,100}$/, 'must be a subject such as app.status.v2')
      .optional(),
    all: z.literal(true).optional(),
  })
  .refine(
    (v) => [v.ids, v.subject, v.all].filter((x) => x !== undefined).length === 1,
    'give exactly one of ids, subject or all: true',
  );
export type ReplayDeadLettersInput = z.infer<typeof ReplayDeadLettersInputSchema>;

/**
 * What a replay did: each letter republished to its original subject (and removed from the
 * dead-letter stream), or why not (it stays).
 */
export const ReplayDeadLettersResultSchema = z.strictObject({
  replayed: z.array(DeadLetterIdSchema),
  failed: z.array(z.strictObject({ id: DeadLetterIdSchema, reason: z.string() })),
});
export type ReplayDeadLettersResult = z.infer<typeof ReplayDeadLettersResultSchema>;
