import { z } from 'zod';

import { EventIdSchema, IdSchema, IsoDateSchema } from './common.js';

/** `billing.usage.v1` — billing-meter → finance: one closed billing period of one run. */
export const UsageRecordSchema = z.strictObject({
  id: EventIdSchema,
  projectId: IdSchema,
  appId: IdSchema,
  runId: z.string(),
  periodIndex: z.int().min(0),
  start: IsoDateSchema,
  end: IsoDateSchema,
  /** Highest allocated units during the period. */
  quantity: z.int().min(0),
  flavor: z.string(),
  unitPriceMicros: z.int().min(0),
  currency: z.string().length(3),
});
export type UsageRecord = z.infer<typeof UsageRecordSchema>;

/**
 * `query.usage.v1` — api-gateway → billing-meter. `from`/`to` select the periods overlapping
 * [from, to); runs are trimmed to those periods and totals cover what is returned.
 */
export const UsageQuerySchema = z.strictObject({
  projectId: IdSchema.optional(),
  appId: IdSchema.optional(),
  from: IsoDateSchema.optional(),
  to: IsoDateSchema.optional(),
  /**
   * `false` answers runs and totals only (every run's `periods` is empty): the way to ask for long
   * windows, whose period lists would not fit in one reply. Default `true`.
   */
  periods: z.boolean().optional(),
});
export type UsageQuery = z.infer<typeof UsageQuerySchema>;

export const UsagePeriodSchema = z.strictObject({
  index: z.int().min(0),
  start: IsoDateSchema,
  end: IsoDateSchema,
  quantity: z.int().min(0),
  /** Charge of this period alone, in micro-units, rounded half up. Totals are rounded once, not summed from these. */
  chargeMicros: z.int().min(0),
  /** True while the period is still running. */
  open: z.boolean(),
});
export const UsageRunSchema = z.strictObject({
  runId: z.string(),
  appId: IdSchema,
  projectId: IdSchema,
  flavor: z.string(),
  unitPriceMicros: z.int().min(0),
  currency: z.string().length(3),
  start: IsoDateSchema,
  end: IsoDateSchema.optional(),
  minutes: z.int().min(0),
  unitMinutes: z.int().min(0),
  chargeMicros: z.int().min(0),
  periods: z.array(UsagePeriodSchema),
});
export const UsageResultSchema = z.strictObject({
  asOf: IsoDateSchema,
  runs: z.array(UsageRunSchema),
  totals: z.array(
    z.strictObject({
      currency: z.string().length(3),
      minutes: z.int().min(0),
      unitMinutes: z.int().min(0),
      chargeMicros: z.int().min(0),
    }),
  ),
});
export type UsageResult = z.infer<typeof UsageResultSchema>;
export type UsageRun = z.infer<typeof UsageRunSchema>;
export type UsagePeriod = z.infer<typeof UsagePeriodSchema>;
