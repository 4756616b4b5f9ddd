import { randomUUID } from 'node:crypto';

import {
  type App,
  type AppEvents,
  type AppPage,
  type AppStatusChanged,
  type CreateAppInput,
  type InfoCode,
  type ListAppsQuery,
  type Logs,
  parseLabelSelector,
} from '@gantry/contracts';
import { notFound } from '@gantry/errors';
import { Inject, Injectable, Logger } from '@nestjs/common';

import { canSee, type Principal, projectScope } from '../domain/access.js';
import { applyChange, assertChangeable, type SpecChange } from '../domain/app-changes.js';
import { describeSpec, desiredEvent, userEvent } from '../domain/events.js';
import { decideLifecycle, type UserAction } from '../domain/lifecycle.js';
import { generateAppName } from '../domain/names.js';
import { toApp } from '../domain/presenters.js';
import { assertGpuQuota, countsAgainstQuota, gpusInUse, gpusOf } from '../domain/quota.js';
import { resolveAppSpec } from '../domain/spec-resolver.js';
import { AppRow } from '../store/entities.js';
import { GatewayStore } from '../store/gateway-store.js';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from './config.token.js';
import { Downstream } from './downstream.js';

const ACTION_EVENT: Record<UserAction, { reason: InfoCode; verb: string }> = {
  stop: { reason: 'APP_STOPPING', verb: 'stop' },
  start: { reason: 'APP_QUEUED', verb: 'start' },
  delete: { reason: 'APP_DELETING', verb: 'delete' },
};

/**
 * The reason an app event gives for a spec change: replicas, ports and images of an app asked to run
 * mean scaling (the scheduler takes it through SCALING); anything else keeps the app's current reason.
 */
function changeReason(app: AppRow, kind: SpecChange['kind']): InfoCode {
  return kind !== 'label' && countsAgainstQuota(app) ? 'APP_SCALING' : app.info.code;
}

/**
 * Apps as the API sees them: create (spec resolution, quota), read (the status read model), and the
 * user's lifecycle actions. Every change bumps the app's desired version and writes `app.desired.v1`
 * to the outbox in the same transaction as the row.
 */
@Injectable()
export class AppsService {
  private readonly log = new Logger('AppsService');

  constructor(
    private readonly store: GatewayStore,
    private readonly downstream: Downstream,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
  ) {}

  async create(p: Principal, input: CreateAppInput): Promise<App> {
    const id = randomUUID();
    const { spec, rate } = resolveAppSpec(input, {
      appId: id,
      flavors: await this.store.flavors(),
      generateName: () => generateAppName(),
      tokenSelector: p.labelSelector,
    });
    const row = await this.store.transaction(async (tx) => {
      const project = await tx.lockProject(p.projectId);
      if (!project) throw notFound('project', p.projectId);
      assertGpuQuota(project.id, project.gpuQuota, gpusInUse(await tx.appsAskedToRun(project.id)), spec);
      const now = new Date();
      const created = Object.assign(new AppRow(), {
        id,
        projectId: project.id,
        name: spec.name,
        createdBy: p.tokenName,
        spec,
        rate,
        lifecycle: 'RUNNING',
        desiredVersion: 1,
        state: 'QUEUED',
        info: { code: 'APP_QUEUED', message: 'waiting to be scheduled' },
        availableReplicas: 0,
        history: [{ state: 'QUEUED', date: now.toISOString() }],
        lastTransitionAt: now,
        statusVersion: 0,
        deleted: false,
        createdAt: now,
        updatedAt: now,
      } satisfies AppRow);
      await tx.insertApp(created);
      await tx.event('app.desired.v1', desiredEvent(created, 'RUNNING', 1, now));
      await tx.event(
        'app.event.v2',
        userEvent(created, 1, now, 'APP_QUEUED', `created by ${p.tokenName}: ${describeSpec(spec)}`),
      );
      return created;
    });
    this.log.log(`app ${id} created in project ${row.projectId} by ${p.tokenName}`);
    return toApp(row, this.config.GANTRY_APP_URL_TEMPLATE);
  }

  async list(p: Principal, q: ListAppsQuery): Promise<AppPage> {
    const projectId = projectScope(p, q.projectId);
    const labels = [q.labelSelector, p.role === 'admin' ? null : p.labelSelector]
      .map((s) => (s ? parseLabelSelector(s) : undefined))
      .filter((s): s is { key: string; value: string } => s !== undefined);
    const { rows, total } = await this.store.listApps({
      projectId,
      ...(q.statusState ? { states: q.statusState } : {}),
      labels,
      ...(q.updatedAfter ? { updatedAfter: q.updatedAfter } : {}),
      ...(q.updatedBefore ? { updatedBefore: q.updatedBefore } : {}),
      sort: q.sort,
      order: q.order,
      page: q.page,
      size: q.size,
    });
    return {
      items: rows.map((r) => toApp(r, this.config.GANTRY_APP_URL_TEMPLATE)),
      page: q.page,
      size: q.size,
      total,
    };
  }

  async get(p: Principal, id: string): Promise<App> {
    return toApp(await this.visible(p, id), this.config.GANTRY_APP_URL_TEMPLATE);
  }

  /**
   * stop, start or delete: decided by the lifecycle table on the app's current state (409 when it
   * cannot apply), then a new desired version. A start is checked against the GPU quota again.
   */
  async act(p: Principal, id: string, action: UserAction, force = false): Promise<void> {
    await this.store.transaction(async (tx) => {
      // Lock order: project, then app (as create does).
      const current = await this.visible(p, id);
      const project = action === 'start' ? await tx.lockProject(current.projectId) : null;
      const app = await tx.lockApp(id);
      if (!app || app.deleted || !canSee(p, { projectId: app.projectId, labels: app.spec.labels }))
        throw notFound('app', id);
      const decision = decideLifecycle(app, action, force);
      if (!decision.publish) return;
      if (project)
        assertGpuQuota(
          project.id,
          project.gpuQuota,
          gpusInUse(await tx.appsAskedToRun(project.id, app.id)),
          app.spec,
        );
      const version = app.desiredVersion + 1;
      const now = new Date();
      await tx.setLifecycle(app.id, decision.lifecycle, version, now);
      await tx.event('app.desired.v1', desiredEvent(app, decision.lifecycle, version, now));
      const { reason, verb } = ACTION_EVENT[action];
      await tx.event(
        'app.event.v2',
        userEvent(app, version, now, reason, `${verb}${force ? ' (force)' : ''} requested by ${p.tokenName}`),
      );
    });
  }

  /**
   * Changes an app's spec (labels, replicas, ports and probe, image): checked against the app's state
   * (409 when it is being deleted, or FAILED/ERROR for anything but labels) and, when it would hold
   * more GPUs while asked to run, against the project's GPU quota. A change that changes nothing
   * publishes nothing. Otherwise the new spec is a new desired version, with an event saying who
   * changed what. Answers the app as it now is.
   */
  async change(p: Principal, id: string, change: SpecChange): Promise<App> {
    const row = await this.store.transaction(async (tx) => {
      // Lock order: project, then app (as create does).
      const current = await this.visible(p, id);
      const project = await tx.lockProject(current.projectId);
      const app = await tx.lockApp(id);
      if (!app || app.deleted || !canSee(p, { projectId: app.projectId, labels: app.spec.labels }))
        throw notFound('app', id);
      assertChangeable(app, change.kind);
      const { spec, changes } = applyChange(app.spec, change, {
        tokenSelector: p.role === 'admin' ? null : p.labelSelector,
      });
      if (changes.length === 0) return app;
      if (project && countsAgainstQuota(app) && gpusOf(spec) > gpusOf(app.spec))
        assertGpuQuota(
          project.id,
          project.gpuQuota,
          gpusInUse(await tx.appsAskedToRun(project.id, app.id)),
          spec,
        );
      const version = app.desiredVersion + 1;
      const now = new Date();
      const changed = Object.assign(new AppRow(), app, { spec, desiredVersion: version, updatedAt: now });
      await tx.setSpec(app.id, spec, version, now);
      await tx.event('app.desired.v1', desiredEvent(changed, app.lifecycle, version, now));
      await tx.event(
        'app.event.v2',
        userEvent(
          app,
          version,
          now,
          changeReason(app, change.kind),
          `${changes.join('; ')} (by ${p.tokenName})`,
        ),
      );
      return changed;
    });
    return toApp(row, this.config.GANTRY_APP_URL_TEMPLATE);
  }

  async logs(
    p: Principal,
    id: string,
    q: { tail?: number; replica?: string; since?: string },
  ): Promise<Logs> {
    await this.visible(p, id);
    return this.downstream.ask('query.logs.v1', { appId: id, ...q });
  }

  async events(p: Principal, id: string, q: { limit?: number }): Promise<AppEvents> {
    await this.visible(p, id);
    return this.downstream.ask('query.events.v1', { appId: id, ...q });
  }

  /** Applies statuses the scheduler reported, each when newer than the one stored. */
  async applyStatuses(statuses: readonly AppStatusChanged[]): Promise<void> {
    const applied = await this.store.applyStatuses(statuses);
    if (applied < statuses.length)
      this.log.debug(
        `${statuses.length - applied} of ${statuses.length} statuses ignored (stale, duplicate or unknown app)`,
      );
  }

  /** The app if this principal may see it; 404 otherwise, so that other projects' apps stay invisible. */
  async visible(p: Principal, id: string, opts: { deleted?: boolean } = {}): Promise<AppRow> {
    const row = opts.deleted ? await this.store.appEvenDeleted(id) : await this.store.app(id);
    if (!row || !canSee(p, { projectId: row.projectId, labels: row.spec.labels })) throw notFound('app', id);
    return row;
  }
}
