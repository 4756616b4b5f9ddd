import { DatabaseModule } from '@gantry/database';
import { MessageBus, MessagingModule } from '@gantry/messaging';
import { HealthModule } from '@gantry/runtime';
import { type DynamicModule, Module } from '@nestjs/common';

import { BillingController } from './billing.controller.js';
import { Clock } from './clock.js';
import { type BillingMeterConfig, SERVICE } from './config.js';
import { Ledger } from './ledger.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { StatusFeed } from './status-feed.js';
import { BillingStore } from './store/billing-store.js';
import { BILLING_ENTITIES } from './store/entities.js';
import { UsageReports } from './usage-reports.js';

export const BILLING_SCHEMA = 'billing';
export { BILLING_ENTITIES, SERVICE };
export const BILLING_MIGRATIONS = [Init1764000000000];

@Module({})
export class BillingMeterModule {
  static forRoot(config: BillingMeterConfig): DynamicModule {
    return {
      module: BillingMeterModule,
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
          schema: BILLING_SCHEMA,
          entities: BILLING_ENTITIES,
          migrations: BILLING_MIGRATIONS,
          outbox: true,
        }),
      ],
      controllers: [BillingController],
      providers: [
        Clock,
        BillingStore,
        UsageReports,
        {
          provide: StatusFeed,
          useFactory: (bus: MessageBus) => new StatusFeed(bus, SERVICE),
          inject: [MessageBus],
        },
        {
          provide: Ledger,
          useFactory: (store: BillingStore, feed: StatusFeed, clock: Clock) =>
            new Ledger(store, feed, clock, {
              intervalMs: config.CLOSE_INTERVAL_MS,
              graceMs: config.CLOSE_GRACE_MS,
              batchApps: config.CLOSE_BATCH_APPS,
              batchPeriods: config.CLOSE_BATCH_PERIODS,
            }),
          inject: [BillingStore, StatusFeed, Clock],
        },
      ],
    };
  }
}
