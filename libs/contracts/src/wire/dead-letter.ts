import { z } from 'zod';

import { IsoDateSchema } from './common.js';

/**
 * `dlq.v1` — a message a consumer could never handle, kept for an operator to inspect and replay.
 * Letters written before `stream`, `seq`, `headers`, `truncated` and `part` existed have none of them:
 * their `data` is the message (up to 64 KiB) and they replay as such.
 */
export const DeadLetterSchema = z.strictObject({
  /** The logical subject the message was published on (`app.status.v2`). */
  subject: z.string(),
  consumer: z.string(),
  reason: z.string(),
  /** The message's payload as text (or, when `part`, the one part of it that failed). */
  data: z.string(),
  deliveries: z.int().min(0),
  at: IsoDateSchema,
  /** The logical stream (`APPS`) and sequence the message is stored at, while its stream keeps it. */
  stream: z.string().optional(),
  seq: z.int().min(1).optional(),
  /** The message's headers (trace context, dedupe id), as NATS gives them. */
  headers: z.record(z.string(), z.array(z.string())).optional(),
  /** `data` is only the start of the payload: a replay takes the message from its stream. */
  truncated: z.boolean().optional(),
  /** `data` is one part of a batch message (one status of `app.status.v2`), not a whole message. */
  part: z.boolean().optional(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
