import {
  type AppStatusBatch,
  type AppStatusChanged,
  AppStatusChangedSchema,
  checkParts,
  durableName,
} from '@gantry/contracts';
import { MessageBus, type MessageContext, OnEvent } from '@gantry/messaging';
import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';

import { SERVICE } from './config.js';
import { AppsService } from './services/apps.service.js';

/** NATS handlers: the status read model follows what the scheduler reports. */
@Controller()
export class StatusController {
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
    await this.bus.deadLetterInvalidParts(
      'app.status.v2',
      durableName(SERVICE, 'app.status.v2'),
      batch.id,
      invalid,
      ctx.deliveries,
    );
    if (valid.length > 0) await this.apps.applyStatuses(valid);
  }

  /** A status published before the upgrade to `app.status.v2`. */
  @OnEvent('app.status.v1')
  async onStatus(e: AppStatusChanged): Promise<void> {
    await this.apps.applyStatuses([e]);
  }
}
