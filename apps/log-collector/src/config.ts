import { databaseEnv, env, loadConfig, platformEnv } from '@gantry/config';
import { z } from 'zod';

/** The service's name: its durable consumers and its NATS connection are named after it. */
export const SERVICE = 'log-collector';

export const LogCollectorConfigSchema = z.object({
  ...platformEnv,
  ...databaseEnv,
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.port(8104),
  /** Log lines and events older than this are deleted. */
  LOG_RETENTION_DAYS: env.int(7, 1, 3650),
});
export type LogCollectorConfig = z.infer<typeof LogCollectorConfigSchema>;

export const loadLogCollectorConfig = (): LogCollectorConfig => loadConfig(LogCollectorConfigSchema);
