import { z } from 'zod';

import { IsoDateSchema } from './common.js';

/** `dlq.v1` — a message a consumer could never handle, kept for an operator to inspect. */
export const DeadLetterSchema = z.strictObject({
  subject: z.string(),
  consumer: z.string(),
  reason: z.string(),
  data: z.string(),
  deliveries: z.int().min(0),
  at: IsoDateSchema,
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
