import type { AppEvent, AppEventBatch, LogBatch, QueryRequest, QueryResponse } from '@gantry/contracts';
import { OnEvent, OnQuery } from '@gantry/messaging';
import { Controller } from '@nestjs/common';

import { LogStore } from './log-store.js';

const DEFAULT_TAIL = 1000;

/** NATS handlers of the log collector: it stores log batches and app events, and answers queries. */
@Controller()
export class LogsController {
  constructor(private readonly store: LogStore) {}

  @OnEvent('logs.batch.v1')
  async onLogBatch(batch: LogBatch): Promise<void> {
    await this.store.appendBatch(batch);
  }

  @OnEvent('app.event.v2')
  async onAppEvents(batch: AppEventBatch): Promise<void> {
    await this.store.recordEvents(batch.events);
  }

  /** An event published before the upgrade to `app.event.v2`. */
  @OnEvent('app.event.v1')
  async onAppEvent(e: AppEvent): Promise<void> {
    await this.store.recordEvents([e]);
  }

  @OnQuery('query.logs.v1')
  logs(q: QueryRequest<'query.logs.v1'>): Promise<QueryResponse<'query.logs.v1'>> {
    return this.store.tail({ ...q, tail: q.tail ?? DEFAULT_TAIL });
  }

  @OnQuery('query.events.v1')
  async events(q: QueryRequest<'query.events.v1'>): Promise<QueryResponse<'query.events.v1'>> {
    return { events: await this.store.events(q.appId, q.limit ?? DEFAULT_TAIL) };
  }
}
