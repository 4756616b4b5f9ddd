import {
  type AppStatusBatch,
  type AppStatusChanged,
  AppStatusChangedSchema,
  checkParts,
  durableName,
} from '@gantry/contracts';
import { MessageBus, type MessageContext, OnEvent } from '@gantry/messaging';
import { Controller, Logger } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';

import { SERVICE } from './config.js';
import { AppsService } from './services/apps.service.js';

/** NATS handlers: the status read model follows what the scheduler reports. */
@Controller()
export class StatusController {
  private readonly log = new Logger('StatusController');

  constructor(
    private readonly apps: AppsService,
    private readonly bus: MessageBus,
  ) {}

  /**
   * Newer versions replace the stored status; older and duplicate ones change nothing. A status
   * that breaks its contract is dead-lettered alone; the rest of its message applies.
   */
  @OnEvent('app.status.v2')
  async onStatuses(@Payload() batch: AppStatusBatch, @Ctx() ctx: MessageContext): Promise<void> {
    const { valid, invalid } = checkParts(AppStatusChangedSchema, batch.statuses);
    const consumer = durableName(SERVICE, 'app.status.v2');
    for (const [i, { part: status, problems }] of invalid.entries()) {
      const reason = `a status of message ${batch.id} breaks app.status.v2's contract: ${problems}`;
      this.log.error(`dead-lettering from ${consumer}: ${reason}`);
      await this.bus.deadLetterPart(
        { subject: 'app.status.v2', consumer, reason, deliveries: ctx.deliveries },
        status,
        `${batch.id}:invalid:${i}`,
      );
    }
    if (valid.length > 0) await this.apps.applyStatuses(valid);
  }

  /** A status published before the upgrade to `app.status.v2`. */
  @OnEvent('app.status.v1')
  async onStatus(e: AppStatusChanged): Promise<void> {
    await this.apps.applyStatuses([e]);
  }
}
