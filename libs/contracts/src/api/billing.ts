import { z } from 'zod';

import { UsagePeriodSchema, UsageRunSchema } from '../wire/billing.js';
import { queryDate, queryString } from './common.js';

const id = (what: string) =>
  queryString()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, `must be ${what}`)
    .optional();

/** Query of `GET /v1/billing/usage`. `projectId` is for admin tokens; others see their own project. */
export const UsageQueryInputSchema = z
  .strictObject({
    appId: id('an app id'),
    projectId: id('a project id'),
    from: queryDate().optional(),
    to: queryDate().optional(),
  })
  .superRefine((q, ctx) => {
    if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to))
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
  });
export type UsageQueryInput = z.infer<typeof UsageQueryInputSchema>;

/** A money amount: integer micro-units plus its decimal rendering. */
const charge = { chargeMicros: z.int().min(0), charge: z.string() };

/**
 * `GET /v1/billing/usage`: billing-meter's usage (runs, 60-second periods, totals), every amount also
 * rendered as a decimal string (`"charge": "15.44"` next to `"chargeMicros": 15440000`).
 */
export const UsageOutputSchema = z.strictObject({
  asOf: z.string(),
  projectId: z.string().optional(),
  appId: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  runs: z.array(
    UsageRunSchema.extend({
      unitPrice: z.string(),
      ...charge,
      periods: z.array(UsagePeriodSchema.extend(charge)),
    }),
  ),
  totals: z.array(
    z.strictObject({
      currency: z.string().length(3),
      minutes: z.int().min(0),
      unitMinutes: z.int().min(0),
      ...charge,
    }),
  ),
});
export type UsageOutput = z.infer<typeof UsageOutputSchema>;
