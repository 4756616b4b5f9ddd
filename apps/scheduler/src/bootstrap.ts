import { AdvisoryLease } from '@gantry/database';
import { Readiness, runService } from '@gantry/runtime';
import type { INestApplication } from '@nestjs/common';

import { SchedulerModule, SERVICE } from './app.module.js';
import type { SchedulerConfig } from './config.js';
import { Reconciler } from './reconciler.js';

/**
 * Starts a scheduler. Several may run; one holds the leader lease and acts, the others wait with
 * their HTTP server up (/readyz says "standby") and no consumer bound. A leader that loses its lease
 * calls `onLostLease` (by default it exits, to come back as a standby).
 */
export async function startScheduler(
  config: SchedulerConfig,
  opts: { onLostLease?: (why: string) => void } = {},
): Promise<{ app: INestApplication; lease: AdvisoryLease }> {
  const lease = new AdvisoryLease(config.DATABASE_URL, `gantry-scheduler:${config.GANTRY_NAMESPACE}`);
  const onLost =
    opts.onLostLease ??
    (() => {
      process.exit(1);
    });
  const app = await runService({
    name: SERVICE,
    module: SchedulerModule.forRoot(config, lease),
    port: config.HTTP_PORT,
    host: config.HTTP_HOST,
    logLevel: config.LOG_LEVEL,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    messaging: {
      service: SERVICE,
      natsUrl: config.NATS_URL,
      namespace: config.GANTRY_NAMESPACE,
      replicas: config.GANTRY_NATS_REPLICAS,
    },
    startWhen: async (nest) => {
      nest.get(Readiness).register('leader', () => lease.isHeld || 'standby: waiting for the leader lease');
      await lease.acquire(onLost);
      await nest.get(Reconciler).start();
    },
  });
  return { app, lease };
}
