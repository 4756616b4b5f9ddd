import { DatabaseModule } from '@gantry/database';
import { MessagingModule } from '@gantry/messaging';
import { HealthModule } from '@gantry/runtime';
import { type DynamicModule, Module } from '@nestjs/common';

import { type LogCollectorConfig, SERVICE } from './config.js';
import { AppEventRow, LogBatchRow, LogLineRow } from './log.entities.js';
import { LogStore } from './log-store.js';
import { LogsController } from './logs.controller.js';
import { Init1763900000000 } from './migrations/1763900000000-init.js';
import { AppEventOrder1764100000000 } from './migrations/1764100000000-app-event-order.js';
import { Retention } from './retention.js';

export { SERVICE };

@Module({})
export class LogCollectorModule {
  static forRoot(config: LogCollectorConfig): DynamicModule {
    return {
      module: LogCollectorModule,
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
          schema: 'logs',
          entities: [LogLineRow, LogBatchRow, AppEventRow],
          migrations: [Init1763900000000, AppEventOrder1764100000000],
        }),
      ],
      controllers: [LogsController],
      providers: [
        LogStore,
        {
          provide: Retention,
          useFactory: (store: LogStore) => new Retention(store, config.LOG_RETENTION_DAYS),
          inject: [LogStore],
        },
      ],
    };
  }
}
