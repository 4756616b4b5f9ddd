import { MessageBus } from '@gantry/messaging';
import { Readiness } from '@gantry/runtime';
import {
  type DynamicModule,
  Global,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { createDataSource, type DatabaseOptions, prepareDatabase } from './datasource.js';
import { Outbox, OutboxMessage, type OutboxOptions } from './outbox.js';

class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly ds: DataSource,
    private readonly readiness: Readiness,
    private readonly outbox?: Outbox,
  ) {}

  onModuleInit(): void {
    this.readiness.register('database', async () => {
      await this.ds.query('SELECT 1');
      return true;
    });
    this.outbox?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.outbox?.stop();
  }
}

export interface DatabaseModuleOptions extends DatabaseOptions {
  /**
   * Provide the transactional `Outbox` (the schema must have its table: `outboxTableSql`), with its
   * options (e.g. `{ relayInWorker: true }`).
   */
  outbox?: boolean | OutboxOptions;
}

/**
 * The service's PostgreSQL schema: migrated at start (under a lock), entities through TypeORM
 * (`@InjectRepository`, `DataSource`), and, when asked for, the transactional `Outbox`.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(opts: DatabaseModuleOptions): DynamicModule {
    const entities = opts.outbox ? [...(opts.entities as unknown[]), OutboxMessage] : opts.entities;
    const outbox: Provider[] = opts.outbox
      ? [
          {
            provide: Outbox,
            useFactory: (ds: DataSource, bus: MessageBus) =>
              new Outbox(ds, bus, typeof opts.outbox === 'object' ? opts.outbox : {}),
            inject: [DataSource, MessageBus],
          },
        ]
      : [];
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({}),
          dataSourceFactory: async () => {
            const ds = createDataSource({ ...opts, entities: entities as DatabaseOptions['entities'] });
            await prepareDatabase(ds);
            return ds;
          },
        }),
      ],
      providers: [
        ...outbox,
        {
          provide: DatabaseLifecycle,
          useFactory: (ds: DataSource, readiness: Readiness, box?: Outbox) =>
            new DatabaseLifecycle(ds, readiness, box),
          inject: [DataSource, Readiness, ...(opts.outbox ? [Outbox] : [])],
        },
      ],
      exports: [...(opts.outbox ? [Outbox] : []), TypeOrmModule],
    };
  }
}
