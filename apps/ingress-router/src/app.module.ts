import { MessagingModule } from '@gantry/messaging';
import { HealthModule } from '@gantry/runtime';
import { type DynamicModule, Module } from '@nestjs/common';

import { Activator, ACTIVATOR_OPTIONS, type ActivatorOptions } from './activator.js';
import type { IngressRouterConfig } from './config.js';
import { INGRESS_OPTIONS, type IngressOptions, IngressServer } from './ingress-server.js';
import { RouteTable } from './route-table.js';
import { TRAFFIC_OPTIONS, type TrafficOptions, TrafficReporter } from './traffic.js';

export const SERVICE = 'ingress-router';

/**
 * The ingress router: stateless, any number of them. It watches KV `routes` and `tokens` and proxies
 * `<appId>[-<port>].<domain>` on its own port, holding requests for apps at zero replicas while they
 * wake, and reports requests per app to the autoscaler; the service's HTTP server only serves health
 * and metrics.
 */
@Module({})
export class IngressRouterModule {
  static forRoot(config: IngressRouterConfig): DynamicModule {
    const options: IngressOptions = {
      host: config.INGRESS_HOST,
      port: config.INGRESS_PORT,
      h2cPort: config.INGRESS_H2C_PORT,
      domain: config.GANTRY_APPS_DOMAIN,
      upstreamTimeoutMs: config.INGRESS_UPSTREAM_TIMEOUT_MS,
      connectTimeoutMs: config.INGRESS_CONNECT_TIMEOUT_MS,
      responseHeaderTimeoutMs: config.INGRESS_RESPONSE_HEADER_TIMEOUT_MS,
      maxAttempts: config.INGRESS_MAX_ATTEMPTS,
      ejectAfterFailures: config.INGRESS_EJECT_AFTER_FAILURES,
      ejectMs: config.INGRESS_EJECT_MS,
    };
    const activator: ActivatorOptions = {
      holdTimeoutMs: config.INGRESS_HOLD_TIMEOUT_MS,
      maxPerApp: config.INGRESS_HOLD_MAX_PER_APP,
    };
    const traffic: TrafficOptions = {
      ingressId: config.INGRESS_ID,
      intervalMs: config.INGRESS_TRAFFIC_INTERVAL_MS,
    };
    return {
      module: IngressRouterModule,
      imports: [
        HealthModule,
        MessagingModule.forRoot({
          service: SERVICE,
          natsUrl: config.NATS_URL,
          namespace: config.GANTRY_NAMESPACE,
          replicas: config.GANTRY_NATS_REPLICAS,
        }),
      ],
      providers: [
        RouteTable,
        TrafficReporter,
        Activator,
        IngressServer,
        { provide: INGRESS_OPTIONS, useValue: options },
        { provide: ACTIVATOR_OPTIONS, useValue: activator },
        { provide: TRAFFIC_OPTIONS, useValue: traffic },
      ],
      exports: [IngressServer, RouteTable],
    };
  }
}
