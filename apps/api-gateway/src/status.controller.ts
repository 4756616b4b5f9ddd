import type { AppStatusBatch, AppStatusChanged } from '@gantry/contracts';
import { OnEvent } from '@gantry/messaging';
import { Controller } from '@nestjs/common';

import { AppsService } from './services/apps.service.js';

/** NATS handlers: the status read model follows what the scheduler reports. */
@Controller()
export class StatusController {
  constructor(private readonly apps: AppsService) {}

  /** Newer versions replace the stored status; older and duplicate ones change nothing. */
  @OnEvent('app.status.v2')
  async onStatuses(batch: AppStatusBatch): Promise<void> {
    await this.apps.applyStatuses(batch.statuses);
  }

  /** A status published before the upgrade to `app.status.v2`. */
  @OnEvent('app.status.v1')
  async onStatus(e: AppStatusChanged): Promise<void> {
    await this.apps.applyStatuses([e]);
  }
}
