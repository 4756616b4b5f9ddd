import {
  type AppEvent,
  type AppEventBatch,
  AppEventSchema,
  checkParts,
  durableName,
  type LogBatch,
  type QueryRequest,
  type QueryResponse,
} from '@gantry/contracts';
import { MessageBus, type MessageContext, OnEvent, OnQuery } from '@gantry/messaging';
import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';

import { SERVICE } from './config.js';
import { LogStore } from './log-store.js';

const DEFAULT_TAIL = 1000;

/** NATS handlers of the log collector: it stores log batches and app events, and answers queries. */
@Controller()
export class LogsController {
  constructor(
    private readonly store: LogStore,
    private readonly bus: MessageBus,
  ) {}

  @OnEvent('logs.batch.v1')
  async onLogBatch(batch: LogBatch): Promise<void> {
    await this.store.appendBatch(batch);
  }

  /** Records a batch's events; one that breaks its contract is dead-lettered alone, the rest recorded. */
  @OnEvent('app.event.v2')
  async onAppEvents(@Payload() batch: AppEventBatch, @Ctx() ctx: MessageContext): Promise<void> {
    const { valid, invalid } = checkParts(AppEventSchema, batch.events);
    await this.bus.deadLetterInvalidParts(
      'app.event.v2',
      durableName(SERVICE, 'app.event.v2'),
      batch.id,
      invalid,
      ctx.deliveries,
    );
    if (valid.length > 0) await this.store.recordEvents(valid);
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
