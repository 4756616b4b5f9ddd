import { DatabaseModule } from '@gantry/database';
import { MessageBus, MessagingModule } from '@gantry/messaging';
import { HealthChecksModule, Readiness } from '@gantry/runtime';
import { type DynamicModule, Injectable, Module, type OnModuleInit } from '@nestjs/common';

import { type ApiGatewayConfig, SERVICE } from './config.js';
import { AdminController } from './http/admin.controller.js';
import { AppsController } from './http/apps.controller.js';
import { BillingController } from './http/billing.controller.js';
import { CapabilitiesController } from './http/capabilities.controller.js';
import { DocsController } from './http/docs.controller.js';
import { AddressRateGuard, AuthGuard, JsonBodyGuard } from './http/guards.js';
import { MeController } from './http/me.controller.js';
import { AdminMetricsController } from './http/metrics.controller.js';
import { NodesController } from './http/nodes.controller.js';
import { ProjectsController } from './http/projects.controller.js';
import { RegistriesController } from './http/registries.controller.js';
import { TokensController } from './http/tokens.controller.js';
import { RegistryAuthController } from './registry-auth.controller.js';
import { AppsService } from './services/apps.service.js';
import { BillingService } from './services/billing.service.js';
import { GATEWAY_CONFIG } from './services/config.token.js';
import { Downstream } from './services/downstream.js';
import { NodesService } from './services/nodes.service.js';
import { ProjectsService } from './services/projects.service.js';
import { RateLimiter } from './services/rate-limiter.js';
import { RegistriesService } from './services/registries.service.js';
import { TokensService } from './services/tokens.service.js';
import { StatusController } from './status.controller.js';
import { GATEWAY_ENTITIES } from './store/entities.js';
import { GatewayStore } from './store/gateway-store.js';
import { Init1764000000000 } from './store/migrations/1764000000000-init.js';
import { Registries1764200000000 } from './store/migrations/1764200000000-registries.js';
import { PreviousRuntime1765100000000 } from './store/migrations/1765100000000-previous-runtime.js';
import { DesiredReplicas1765200000000 } from './store/migrations/1765200000000-desired-replicas.js';
import { ProjectQuotas1765300000000 } from './store/migrations/1765300000000-project-quotas.js';

export { SERVICE };
export const GATEWAY_SCHEMA = 'gateway';
export const GATEWAY_MIGRATIONS = [
  Init1764000000000,
  Registries1764200000000,
  PreviousRuntime1765100000000,
  DesiredReplicas1765200000000,
  ProjectQuotas1765300000000,
];

/** Every HTTP controller of the gateway (the API route table documents each of their routes). */
export const GATEWAY_CONTROLLERS = [
  AppsController,
  CapabilitiesController,
  MeController,
  BillingController,
  TokensController,
  RegistriesController,
  ProjectsController,
  NodesController,
  AdminController,
  DocsController,
  AdminMetricsController,
];

/** /readyz also asks whether the gateway's NATS connection is up (the database check is the database module's). */
@Injectable()
class NatsReadiness implements OnModuleInit {
  constructor(
    private readonly readiness: Readiness,
    private readonly bus: MessageBus,
  ) {}

  onModuleInit(): void {
    this.readiness.register('nats', () => (this.bus.isConnected() ? true : 'not connected'));
  }
}

@Module({})
export class ApiGatewayModule {
  static forRoot(config: ApiGatewayConfig): DynamicModule {
    return {
      module: ApiGatewayModule,
      imports: [
        // /metrics is AdminMetricsController's, behind an admin token: this port is the public API's.
        HealthChecksModule,
        MessagingModule.forRoot({
          service: SERVICE,
          natsUrl: config.NATS_URL,
          namespace: config.GANTRY_NAMESPACE,
          replicas: config.GANTRY_NATS_REPLICAS,
        }),
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          schema: GATEWAY_SCHEMA,
          entities: GATEWAY_ENTITIES,
          migrations: GATEWAY_MIGRATIONS,
          outbox: true,
        }),
      ],
      controllers: [...GATEWAY_CONTROLLERS, StatusController, RegistryAuthController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        GatewayStore,
        Downstream,
        TokensService,
        ProjectsService,
        AppsService,
        BillingService,
        NodesService,
        RegistriesService,
        RateLimiter,
        AuthGuard,
        AddressRateGuard,
        JsonBodyGuard,
        NatsReadiness,
      ],
    };
  }
}
