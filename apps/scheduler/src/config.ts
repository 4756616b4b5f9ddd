import { databaseEnv, env, loadConfig, platformEnv } from '@gantry/config';
import { z } from 'zod';

export const SchedulerConfigSchema = z.object({
  ...platformEnv,
  ...databaseEnv,
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.port(8101),
  /** A node silent for longer is NOT_READY: nothing new lands there and its endpoints leave the routes. */
  NODE_NOT_READY_AFTER_MS: env.int(3000, 100),
  /** A node silent for longer is LOST: its replicas are placed elsewhere. */
  NODE_LOST_AFTER_MS: env.int(10_000, 200),
  /** How often every live app is reconciled even when no event arrives. */
  RESYNC_INTERVAL_MS: env.int(10_000, 100),
});
export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;

export const loadSchedulerConfig = (): SchedulerConfig => loadConfig(SchedulerConfigSchema);
