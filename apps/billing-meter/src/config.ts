import { databaseEnv, env, loadConfig, platformEnv } from '@gantry/config';
import { z } from 'zod';

/** The service's name: its durable consumers and its NATS connection are named after it. */
export const SERVICE = 'billing-meter';

export const BillingMeterConfigSchema = z.object({
  ...platformEnv,
  ...databaseEnv,
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.port(8103),
  /** How often the ledger records the periods that became final. */
  CLOSE_INTERVAL_MS: env.int(10_000, 50, 3_600_000),
  /**
   * How long after a period becomes final the ledger waits before recording it, for status events
   * still on their way (they are stamped when the change happened, and arrive a little later).
   */
  CLOSE_GRACE_MS: env.int(5_000, 0, 3_600_000),
  /** Most apps one ledger pass works on (the rest wait for the next pass). */
  CLOSE_BATCH_APPS: env.int(500, 1, 100_000),
  /** Most periods one ledger pass records for one app (a backlog is caught up over several passes). */
  CLOSE_BATCH_PERIODS: env.int(1_000, 1, 100_000),
});
export type BillingMeterConfig = z.infer<typeof BillingMeterConfigSchema>;

export const loadBillingMeterConfig = (): BillingMeterConfig => loadConfig(BillingMeterConfigSchema);
