import { z } from 'zod';

import {
  AppSpecSchema,
  AppStateSchema,
  HistoryEntrySchema,
  InfoSchema,
  RateSchema,
} from '../domain/app-spec.js';
import { INFO_CODES } from '../domain/info-codes.js';
import { EventIdSchema, IdSchema, IsoDateSchema } from './common.js';

/**
 * `app.desired.v1` — api-gateway → scheduler. The whole desired state of one app, as a snapshot:
 * consumers keep the highest `version` they have seen and ignore older ones.
 */
export const AppDesiredSchema = z.strictObject({
  id: EventIdSchema,
  appId: IdSchema,
  projectId: IdSchema,
  version: z.int().min(1),
  at: IsoDateSchema,
  /** What the user wants the app to be doing. */
  lifecycle: z.enum(['RUNNING', 'STOPPED', 'DELETED']),
  spec: AppSpecSchema,
  rate: RateSchema,
});
export type AppDesired = z.infer<typeof AppDesiredSchema>;

/**
 * An app's observed status after a change, as a snapshot with a monotonic `version`. `at` is when the
 * change happened (billing uses it). Carried by `app.status.v2`; `app.status.v1` carried one alone.
 */
export const AppStatusChangedSchema = z.strictObject({
  id: EventIdSchema,
  appId: IdSchema,
  projectId: IdSchema,
  version: z.int().min(1),
  at: IsoDateSchema,
  state: AppStateSchema,
  info: InfoSchema,
  availableReplicas: z.int().min(0),
  /** Units held right now: replicas holding resources × units per replica. Billing's quantity. */
  allocatedUnits: z.int().min(0),
  history: z.array(HistoryEntrySchema),
  lastTransitionDate: IsoDateSchema,
  rate: RateSchema,
  /** The desired version the status was decided under (absent from schedulers before it). */
  desiredVersion: z.int().min(1).optional(),
  /** The replica count the app works towards: its fixed count, or the autoscaler's decision. */
  desiredReplicas: z.int().min(0).max(10).optional(),
});
export type AppStatusChanged = z.infer<typeof AppStatusChangedSchema>;

/** Most statuses one `app.status.v2` message carries. */
export const APP_STATUS_BATCH_MAX = 200;

/**
 * `app.status.v2` — scheduler → api-gateway, billing-meter. The status changes of one scheduler pass,
 * several apps at once: one message, one acknowledgment and one write per consumer where
 * `app.status.v1` took one per app. `id` deduplicates the message; each status keeps its own id, and
 * consumers apply each on its own (newest version wins; billing stores each id once).
 *
 * The envelope is checked on arrival; each status is checked by the consumer (`checkParts`), so
 * that one status a consumer cannot read — a producer newer than it, say — is dead-lettered alone
 * instead of taking the rest of its pass with it. Producers send only AppStatusChanged values.
 */
export const AppStatusBatchSchema = z.strictObject({
  id: EventIdSchema,
  statuses: z.array(z.unknown()).min(1).max(APP_STATUS_BATCH_MAX),
});
export type AppStatusBatch = z.infer<typeof AppStatusBatchSchema>;

/**
 * The parts of a batch split into those that meet `schema` and those that do not (with why): how
 * consumers read `app.status.v2` and `app.event.v2`, whose envelopes leave each part to them.
 */
export function checkParts<T>(
  schema: z.ZodType<T>,
  parts: readonly unknown[],
): { valid: T[]; invalid: Array<{ part: unknown; problems: string }> } {
  const valid: T[] = [];
  const invalid: Array<{ part: unknown; problems: string }> = [];
  for (const part of parts) {
    const r = schema.safeParse(part);
    if (r.success) valid.push(r.data);
    else
      invalid.push({
        part,
        problems: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
      });
  }
  return { valid, invalid };
}

/** An app event: a transition or platform decision about an app, with its reason (carried by `app.event.v2`). */
export const AppEventSchema = z.strictObject({
  id: EventIdSchema,
  appId: IdSchema,
  projectId: IdSchema,
  at: IsoDateSchema,
  source: z.enum(['api-gateway', 'scheduler', 'node-agent', 'autoscaler']),
  type: z.enum([
    'STATE_CHANGED',
    'SPEC_CHANGED',
    'REPLICA_PLACED',
    'REPLICA_READY',
    'REPLICA_EXITED',
    'REPLICA_FAILED',
    'REPLICA_REMOVED',
    'UNSCHEDULABLE',
    /** The autoscaler changed the replica count (the message has its inputs and reason). */
    'AUTOSCALED',
    /** An automatic app's metric cannot be read (or can again): no decision is made on it meanwhile. */
    'METRICS_UNAVAILABLE',
  ]),
  reason: z.enum(INFO_CODES),
  message: z.string().max(8192),
  replicaId: IdSchema.optional(),
  nodeId: IdSchema.optional(),
});
export type AppEvent = z.infer<typeof AppEventSchema>;

/** Most events one `app.event.v2` message carries. */
export const APP_EVENT_BATCH_MAX = 500;

/**
 * `app.event.v2` — api-gateway, scheduler → log-collector. App events, several at once (the
 * scheduler sends a pass's events together, the gateway one user action's): one message, one
 * stored row of work, where v1 took one per event. `id` deduplicates the message; each event keeps
 * its own id.
 */
export const AppEventBatchSchema = z.strictObject({
  id: EventIdSchema,
  /** Each an AppEvent: checked by the consumer (`checkParts`), as `app.status.v2`'s statuses are. */
  events: z.array(z.unknown()).min(1).max(APP_EVENT_BATCH_MAX),
});
export type AppEventBatch = z.infer<typeof AppEventBatchSchema>;
