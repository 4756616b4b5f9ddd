import { AdvisoryLease, DatabaseModule } from '@gantry/database';
import { MessagingModule } from '@gantry/messaging';
import { HealthModule } from '@gantry/runtime';
import { type DynamicModule, Module, type OnApplicationShutdown } from '@nestjs/common';

import type { SchedulerConfig } from './config.js';
import { Init1763900000000 } from './migrations/1763900000000-init.js';
import { NodeDraining1763950000000 } from './migrations/1763950000000-node-draining.js';
import { ReplicaSpecHash1764000000000 } from './migrations/1764000000000-replica-spec-hash.js';
import { AppScaling1765000000000 } from './migrations/1765000000000-app-scaling.js';
import { NodeAdmin } from './node-admin.js';
import { NodeRegistry } from './node-registry.js';
import { Reconciler } from './reconciler.js';
import { SchedulerController } from './scheduler.controller.js';
import { AppRow, NodeRow, ReplicaRow } from './store/entities.js';
import { SchedulerStore } from './store/scheduler-store.js';

export const SERVICE = 'scheduler';
export const SCHEDULER_ENTITIES = [NodeRow, AppRow, ReplicaRow];
export const SCHEDULER_MIGRATIONS = [
  Init1763900000000,
  NodeDraining1763950000000,
  ReplicaSpecHash1764000000000,
  AppScaling1765000000000,
];

/** Gives the leader lease back when the scheduler shuts down, so a standby takes over at once. */
class LeaseRelease implements OnApplicationShutdown {
  constructor(private readonly lease: AdvisoryLease) {}
  async onApplicationShutdown(): Promise<void> {
    await this.lease.release();
  }
}

@Module({})
export class SchedulerModule {
  static forRoot(config: SchedulerConfig, lease: AdvisoryLease): DynamicModule {
    return {
      module: SchedulerModule,
      imports: [
        HealthModule,
        MessagingModule.forRoot({
          service: SERVICE,
          natsUrl: config.NATS_URL,
          namespace: config.GANTRY_NAMESPACE,
          replicas: config.GANTRY_NATS_REPLICAS,
        }),
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          schema: 'scheduler',
          entities: SCHEDULER_ENTITIES,
          migrations: SCHEDULER_MIGRATIONS,
          // Relaying assignments, routes and events is as much work as deciding them.
          outbox: { relayInWorker: true },
        }),
      ],
      controllers: [SchedulerController],
      providers: [
        { provide: AdvisoryLease, useValue: lease },
        { provide: LeaseRelease, useFactory: () => new LeaseRelease(lease) },
        SchedulerStore,
        NodeRegistry,
        NodeAdmin,
        {
          provide: Reconciler,
          useFactory: (store: SchedulerStore, registry: NodeRegistry) =>
            new Reconciler(store, registry, config),
          inject: [SchedulerStore, NodeRegistry],
        },
      ],
    };
  }
}
