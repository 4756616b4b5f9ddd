import type { UsageOutput, UsageQuery, UsageQueryInput } from '@gantry/contracts';
import { GantryError, notFound } from '@gantry/errors';
import { Injectable } from '@nestjs/common';

import { type Principal, projectScope } from '../domain/access.js';
import { toUsageOutput } from '../domain/presenters.js';
import { AppsService } from './apps.service.js';
import { Downstream } from './downstream.js';

/** Usage and charges, from billing-meter, scoped to what the caller may see. */
@Injectable()
export class BillingService {
  constructor(
    private readonly apps: AppsService,
    private readonly downstream: Downstream,
  ) {}

  /**
   * The caller's project's usage (admins may name a project, or an app of any project); one app's
   * when `appId` is given (deleted apps included). A label-scoped token must name an app it reaches.
   */
  async usage(p: Principal, q: UsageQueryInput): Promise<UsageOutput> {
    let projectId = projectScope(p, q.projectId);
    if (q.appId) {
      const app = await this.apps.visible(p, q.appId, { deleted: true });
      if (q.projectId !== undefined && app.projectId !== q.projectId) throw notFound('app', q.appId);
      projectId = app.projectId;
    } else if (p.role !== 'admin' && p.labelSelector) {
      throw new GantryError(
        'FORBIDDEN',
        `token ${p.tokenName} reaches only apps labelled ${p.labelSelector}: ask for one of them with appId`,
      );
    }
    const query: UsageQuery = {
      projectId,
      ...(q.appId ? { appId: q.appId } : {}),
      ...(q.from ? { from: q.from } : {}),
      ...(q.to ? { to: q.to } : {}),
    };
    return toUsageOutput(await this.downstream.ask('query.usage.v1', query), query);
  }
}
