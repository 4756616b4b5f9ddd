import { z } from 'zod';

import { AppEventSchema } from './app.js';
import { EventIdSchema, IdSchema, IsoDateSchema } from './common.js';

export const LogLineSchema = z.strictObject({
  /** RFC 3339 with nanoseconds, as Docker stamps it. */
  ts: z.string().min(20).max(40),
  stream: z.enum(['stdout', 'stderr']),
  line: z.string().max(65_536),
});
export type LogLine = z.infer<typeof LogLineSchema>;

/** `logs.batch.v1` — node-agent → log-collector: lines a replica wrote, in order. */
export const LogBatchSchema = z.strictObject({
  id: EventIdSchema,
  nodeId: IdSchema,
  appId: IdSchema,
  replicaId: IdSchema,
  lines: z.array(LogLineSchema).min(1).max(1000),
});
export type LogBatch = z.infer<typeof LogBatchSchema>;

/** `query.logs.v1` — api-gateway → log-collector. */
export const LogQuerySchema = z.strictObject({
  appId: IdSchema,
  tail: z.int().min(1).max(10_000).optional(),
  replica: IdSchema.optional(),
  since: IsoDateSchema.optional(),
});
export const LogQueryResultSchema = z.strictObject({
  lastActivity: IsoDateSchema.optional(),
  logs: z.array(
    z.strictObject({
      timestamp: z.string(),
      replica: z.string(),
      stream: z.enum(['stdout', 'stderr']),
      content: z.string(),
    }),
  ),
});
export type LogQueryResult = z.infer<typeof LogQueryResultSchema>;

/** `query.events.v1` — api-gateway → log-collector: an app's event log, oldest first. */
export const EventQuerySchema = z.strictObject({
  appId: IdSchema,
  limit: z.int().min(1).max(10_000).optional(),
});

export const EventQueryResultSchema = z.strictObject({ events: z.array(AppEventSchema) });
