import type { AppStatusChanged, QueryRequest, QueryResponse } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { type MessageContext, OnEvent, OnQuery } from '@gantry/messaging';
import { Controller, Logger } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';

import { Clock } from './clock.js';
import { billingMetrics } from './metrics.js';
import { judgedAt, toStatusPoint } from './model/ingest.js';
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
  ) {}

  /**
   * Stores the change in its app's timeline, once per event id. An event outside billing's bounds is
   * refused for good (dead-lettered); a database failure is retried.
   */
  @OnEvent('app.status.v1')
  async onStatus(@Payload() e: AppStatusChanged, @Ctx() ctx: MessageContext): Promise<void> {
    const ingested = toStatusPoint(e, judgedAt(ctx.storedAt, this.clock.now()));
    if (!ingested.ok) {
      billingMetrics.statusEvents.inc({ outcome: 'refused' });
      throw new GantryError(
        'VALIDATION_FAILED',
        `status event ${e.id} of app ${e.appId} refused: ${ingested.problems.join('; ')}`,
      );
    }
    const outcome = await this.store.recordStatus(e.appId, ingested.point);
    billingMetrics.statusEvents.inc({
      outcome: outcome.stored ? 'stored' : outcome.conflicting ? 'conflicting' : 'duplicate',
    });
    if (outcome.conflicting)
      this.log.warn(
        `status event ${e.id} of app ${e.appId} came again with other content; the first is kept`,
      );
    if (outcome.late) {
      billingMetrics.lateEvents.inc();
      this.log.warn(
        `status event ${e.id} of app ${e.appId} at ${e.at} arrived after its periods were recorded; the ledger is not revised`,
      );
    }
  }

  @OnQuery('query.usage.v1')
  usage(q: QueryRequest<'query.usage.v1'>): Promise<QueryResponse<'query.usage.v1'>> {
    return this.reports.query(q);
  }
}
