import { MessagingModule } from '@gantry/messaging';
import { HealthModule } from '@gantry/runtime';
import { type DynamicModule, Module } from '@nestjs/common';

import { AutoscalerController } from './autoscaler.controller.js';
import { Autoscaler, AUTOSCALER_OPTIONS, type AutoscalerOptions } from './autoscaler.js';
import { type AutoscalerConfig, SERVICE } from './config.js';

export { SERVICE };

/**
 * The autoscaler: decides the replica count of every automatic app (KV `scaling`) from its
 * replicas' usage (`node.usage.v1`), a custom metric, and its traffic (`ingress.traffic.v1`), and
 * publishes each decision on `app.scale.v1` for the scheduler. Stateless: a restart rebuilds
 * everything from the KV entries and the next reports.
 */
@Module({})
export class AutoscalerModule {
  static forRoot(config: AutoscalerConfig): DynamicModule {
    const options: AutoscalerOptions = {
      intervalMs: config.AUTOSCALER_INTERVAL_MS,
      metricWindowMs: config.AUTOSCALER_METRIC_WINDOW_MS,
      metricsIntervalMs: config.AUTOSCALER_METRICS_INTERVAL_MS,
      metricsTimeoutMs: config.AUTOSCALER_METRICS_TIMEOUT_MS,
      readyGraceMs: config.AUTOSCALER_READY_GRACE_MS,
    };
    return {
      module: AutoscalerModule,
      imports: [
        HealthModule,
        MessagingModule.forRoot({
          service: SERVICE,
          natsUrl: config.NATS_URL,
          namespace: config.GANTRY_NAMESPACE,
          replicas: config.GANTRY_NATS_REPLICAS,
        }),
      ],
      controllers: [AutoscalerController],
      providers: [Autoscaler, { provide: AUTOSCALER_OPTIONS, useValue: options }],
    };
  }
}
