import {
  type AppStatusBatch,
  type AppStatusChanged,
  AppStatusChangedSchema,
  checkParts,
  durableName,
  type EventSubject,
  type QueryRequest,
  type QueryResponse,
} from '@gantry/contracts';
import { MessageBus, type MessageContext, OnEvent, OnQuery } from '@gantry/messaging';
import { Controller, Logger } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';

import { Clock } from './clock.js';
import { SERVICE } from './config.js';
import { billingMetrics } from './metrics.js';
import { judgedAt, toStatusPoint } from './model/ingest.js';
import type { StatusPoint } from './model/usage.js';
import { BillingStore } from './store/billing-store.js';
import { UsageReports } from './usage-reports.js';

/** NATS handlers of the billing meter: it stores app status changes and answers usage queries. */
@Controller()
export class BillingController {
  private readonly log = new Logger('BillingController');

  constructor(
    private readonly store: BillingStore,
    private readonly reports: UsageReports,
    private readonly clock: Clock,
    private readonly bus: MessageBus,
  ) {}

  /** A scheduler pass's status changes: see `ingest`. A status that breaks its contract is dead-lettered alone. */
  @OnEvent('app.status.v2')
  async onStatuses(@Payload() batch: AppStatusBatch, @Ctx() ctx: MessageContext): Promise<void> {
    const { valid, invalid } = checkParts(AppStatusChangedSchema, batch.statuses);
    await this.bus.deadLetterInvalidParts(
      'app.status.v2',
      durableName(SERVICE, 'app.status.v2'),
      batch.id,
      invalid,
      ctx.deliveries,
    );
    billingMetrics.statusEvents.inc({ outcome: 'refused' }, invalid.length);
    await this.ingest('app.status.v2', valid, ctx);
  }

  /** A status published before the upgrade to `app.status.v2`. */
  @OnEvent('app.status.v1')
  async onStatus(@Payload() e: AppStatusChanged, @Ctx() ctx: MessageContext): Promise<void> {
    await this.ingest('app.status.v1', [e], ctx);
  }

  @OnQuery('query.usage.v1')
  usage(q: QueryRequest<'query.usage.v1'>): Promise<QueryResponse<'query.usage.v1'>> {
    return this.reports.query(q);
  }

  /**
   * Stores each change in its app's timeline, once per status id, all of a message in one
   * transaction. A status outside billing's bounds is refused for good: dead-lettered on its own,
   * while the rest of its message is stored. A database failure is retried (the whole message,
   * which stores nothing twice).
   */
  private async ingest(
    subject: EventSubject,
    statuses: readonly AppStatusChanged[],
    ctx: MessageContext,
  ): Promise<void> {
    const receivedAt = judgedAt(ctx.storedAt, this.clock.now());
    const accepted: Array<{ appId: string; point: StatusPoint }> = [];
    const refused: Array<{ status: AppStatusChanged; problems: string[] }> = [];
    for (const status of statuses) {
      const ingested = toStatusPoint(status, receivedAt);
      if (ingested.ok) accepted.push({ appId: status.appId, point: ingested.point });
      else refused.push({ status, problems: ingested.problems });
    }
    // Dead letters first: if one cannot be recorded, the message is retried and nothing is lost.
    for (const { status, problems } of refused) {
      await this.deadLetter(
        subject,
        `status event ${status.id} of app ${status.appId} refused: ${problems.join('; ')}`,
        status,
        status.id,
        ctx,
      );
    }
    const outcomes = await this.store.recordStatuses(accepted);
    for (const [i, outcome] of outcomes.entries()) {
      const { appId, point } = accepted[i] as { appId: string; point: StatusPoint };
      billingMetrics.statusEvents.inc({
        outcome: outcome.stored ? 'stored' : outcome.conflicting ? 'conflicting' : 'duplicate',
      });
      if (outcome.conflicting)
        this.log.warn(
          `status event ${point.id} of app ${appId} came again with other content; the first is kept`,
        );
      if (outcome.late) {
        billingMetrics.lateEvents.inc();
        this.log.warn(
          `status event ${point.id} of app ${appId} at ${new Date(point.at).toISOString()} arrived after its periods were recorded; the ledger is not revised`,
        );
      }
    }
  }

  private async deadLetter(
    subject: EventSubject,
    reason: string,
    status: unknown,
    partId: string,
    ctx: MessageContext,
  ): Promise<void> {
    const consumer = durableName(SERVICE, subject);
    this.log.error(`dead-lettering from ${consumer}: ${reason}`);
    await this.bus.deadLetterPart({ subject, consumer, reason, deliveries: ctx.deliveries }, status, partId);
    billingMetrics.statusEvents.inc({ outcome: 'refused' });
  }
}
