import { randomUUID } from 'node:crypto';

import {
  type App,
  type AppEvents,
  type AppPage,
  type AppSpec,
  type AppStatusChanged,
  type CreateAppInput,
  type InfoCode,
  type ListAppsQuery,
  type Logs,
  parseLabelSelector,
} from '@gantry/contracts';
import { GantryError, notFound } from '@gantry/errors';
import { Inject, Injectable, Logger } from '@nestjs/common';

import { canSee, type Principal, projectScope } from '../domain/access.js';
import { applyChange, assertChangeable, type SpecChange } from '../domain/app-changes.js';
import { describeSpec, desiredEvent, userEvent } from '../domain/events.js';
import { decideLifecycle, type UserAction } from '../domain/lifecycle.js';
import { generateAppName } from '../domain/names.js';
import { toApp } from '../domain/presenters.js';
import {
  assertWithinQuota,
  countsAgainstQuota,
  growth,
  holdingsInUse,
  holdingsOf,
  limitsOf,
} from '../domain/quota.js';
import { afterChange, autoRollbackDue, rollBack } from '../domain/runtime.js';
import { resolveAppSpec } from '../domain/spec-resolver.js';
import { AppRow, type ProjectRow } from '../store/entities.js';
import { GatewayStore, type GatewayTx, type SpecWrite } from '../store/gateway-store.js';
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
function changeReason(app: AppRow, kind: SpecChange['kind'] | 'rollback'): InfoCode {
  return kind !== 'label' && countsAgainstQuota(app) ? 'APP_SCALING' : app.info.code;
}

/** Of each app's statuses, the newest. */
function newestPerApp(statuses: readonly AppStatusChanged[]): AppStatusChanged[] {
  const newest = new Map<string, AppStatusChanged>();
  for (const s of statuses) {
    const seen = newest.get(s.appId);
    if (!seen || s.version > seen.version) newest.set(s.appId, s);
  }
  return [...newest.values()];
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
      assertWithinQuota(
        project.id,
        limitsOf(project),
        { ...holdingsInUse(await tx.appsAskedToRun(project.id)), apps: await tx.countApps(project.id) },
        { ...holdingsOf(spec), apps: 1 },
      );
      const now = new Date();
      const created = Object.assign(new AppRow(), {
        id,
        projectId: project.id,
        name: spec.name,
        createdBy: p.tokenName,
        spec,
        rate,
        previousRuntime: null,
        lifecycle: 'RUNNING',
        desiredVersion: 1,
        state: 'QUEUED',
        info: { code: 'APP_QUEUED', message: 'waiting to be scheduled' },
        availableReplicas: 0,
        desiredReplicas: null,
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
   * cannot apply), then a new desired version. A start is checked against the project's CPU, GPU and
   * memory quotas again.
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
        assertWithinQuota(
          project.id,
          limitsOf(project),
          holdingsInUse(await tx.appsAskedToRun(project.id, app.id)),
          holdingsOf(app.spec),
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
   * Changes an app's spec (labels, replicas, runtime settings, image): checked against the app's
   * state (409 when it is being deleted, or FAILED/ERROR for anything but labels) and, when it would
   * hold more CPUs, GPUs or memory while asked to run, against the project's quotas. A change that
   * changes nothing publishes nothing. Otherwise the new spec is a new desired version, with an event
   * saying who changed what; a change of what the replicas run keeps what they ran for a rollback.
   * Answers the app as it now is.
   */
  async change(p: Principal, id: string, change: SpecChange): Promise<App> {
    const flavors =
      change.kind === 'update' && change.input.resources !== undefined
        ? await this.store.flavors()
        : undefined;
    const row = await this.store.transaction(async (tx) => {
      const { project, app } = await this.lockToChange(tx, p, id);
      assertChangeable(app, change.kind);
      const { spec, changes, rate } = applyChange(app.spec, change, {
        tokenSelector: p.role === 'admin' ? null : p.labelSelector,
        ...(flavors ? { flavors } : {}),
      });
      if (changes.length === 0) return app;
      await this.assertQuota(tx, project, app, spec);
      const now = new Date();
      const write = { spec, rate: rate ?? app.rate, previousRuntime: afterChange(app, spec, now) };
      return this.commit(tx, app, write, now, {
        reason: changeReason(app, change.kind),
        message: `${changes.join('; ')} (by ${p.tokenName})`,
      });
    });
    return toApp(row, this.config.GANTRY_APP_URL_TEMPLATE);
  }

  /**
   * Returns an app to the runtime spec it ran before its current one (image, command, environment,
   * resources, ports, probe), which becomes the one to return to: a second rollback undoes the first.
   * 409 when there is none (or the app cannot change); the quotas are checked as for a change.
   */
  async rollback(p: Principal, id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const { project, app } = await this.lockToChange(tx, p, id);
      assertChangeable(app, 'rollback');
      const now = new Date();
      const back = rollBack(app, now);
      await this.assertQuota(tx, project, app, back.spec);
      await this.commit(tx, app, back, now, {
        reason: changeReason(app, 'rollback'),
        message: `rolled back: ${back.changes.join('; ')} (by ${p.tokenName})`,
      });
    });
  }

  /**
   * Rolls an app back by itself after a status said its rollout failed, when the app asks for it and
   * the failed runtime spec came from an update (see `autoRollbackDue`). Idempotent: the rollback
   * makes the current runtime spec one that is never rolled back by itself, so a status delivered
   * again, or a later one saying the same, changes nothing. A rollback a quota refuses is said
   * in an event, once, and not tried again.
   */
  private async autoRollback(failure: AppStatusChanged): Promise<void> {
    const current = await this.store.app(failure.appId);
    if (!current) return;
    await this.store.transaction(async (tx) => {
      // Lock order: project, then app (as create does).
      const project = await tx.lockProject(current.projectId);
      const app = await tx.lockApp(current.id);
      if (!app || app.deleted || app.projectId !== failure.projectId || !autoRollbackDue(app, failure))
        return;
      const now = new Date();
      const back = rollBack(app, now);
      const why = `the rollout failed: ${failure.info.message}`;
      try {
        await this.assertQuota(tx, project, app, back.spec);
      } catch (error) {
        if (!(error instanceof GantryError) || error.code !== 'QUOTA_EXCEEDED') throw error;
        // The runtime to return to stays, for a rollback by hand once there is room.
        if (app.previousRuntime)
          await tx.setPreviousRuntime(app.id, { ...app.previousRuntime, autoRollbackable: false });
        await tx.event('app.event.v2', {
          ...userEvent(
            app,
            app.desiredVersion,
            now,
            'APP_QUOTA_EXCEEDED',
            `automatic rollback refused: ${error.message} (${why})`,
          ),
          id: `${app.id}:api:${app.desiredVersion}:rollback-refused`,
        });
        this.log.warn(`app ${app.id}: automatic rollback refused by a quota: ${error.message}`);
        return;
      }
      await this.commit(tx, app, back, now, {
        reason: 'APP_ROLLOUT_FAILED',
        message: `automatic rollback: ${back.changes.join('; ')} (${why})`,
      });
      this.log.log(`app ${app.id} rolled back automatically: its rollout failed`);
    });
  }

  /** The project and the app, locked (in that order, as create does); 404 when the caller cannot see it. */
  private async lockToChange(
    tx: GatewayTx,
    p: Principal,
    id: string,
  ): Promise<{ project: ProjectRow | null; app: AppRow }> {
    const current = await this.visible(p, id);
    const project = await tx.lockProject(current.projectId);
    const app = await tx.lockApp(id);
    if (!app || app.deleted || !canSee(p, { projectId: app.projectId, labels: app.spec.labels }))
      throw notFound('app', id);
    return { project, app };
  }

  /**
   * 403 QUOTA_EXCEEDED when `spec` would hold more CPUs, GPUs or memory than the app does while it is
   * asked to run, beyond the project's quota for it.
   */
  private async assertQuota(
    tx: GatewayTx,
    project: ProjectRow | null,
    app: AppRow,
    spec: AppSpec,
  ): Promise<void> {
    if (!project || !countsAgainstQuota(app)) return;
    const needed = growth(holdingsOf(app.spec), holdingsOf(spec));
    if (Object.keys(needed).length === 0) return;
    assertWithinQuota(
      project.id,
      limitsOf(project),
      holdingsInUse(await tx.appsAskedToRun(project.id, app.id)),
      needed,
    );
  }

  /** Stores a changed spec as the next desired version, and queues it with an event saying why. */
  private async commit(
    tx: GatewayTx,
    app: AppRow,
    write: SpecWrite,
    now: Date,
    event: { reason: InfoCode; message: string },
  ): Promise<AppRow> {
    const version = app.desiredVersion + 1;
    const changed = Object.assign(new AppRow(), app, {
      spec: write.spec,
      rate: write.rate,
      previousRuntime: write.previousRuntime,
      desiredVersion: version,
      updatedAt: now,
    });
    await tx.setSpec(app.id, write, version, now);
    await tx.event('app.desired.v1', desiredEvent(changed, app.lifecycle, version, now));
    await tx.event('app.event.v2', userEvent(app, version, now, event.reason, event.message));
    return changed;
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

  /**
   * Applies statuses the scheduler reported, each when newer than the one stored; then rolls back by
   * itself each app whose newest status here says its rollout failed, if it asks for that. The
   * rollback is decided on the stored app, not on whether the status was new: a status delivered
   * again after a crash between the two still gets its rollback, and one already acted on gets none.
   */
  async applyStatuses(statuses: readonly AppStatusChanged[]): Promise<void> {
    const applied = await this.store.applyStatuses(statuses);
    if (applied < statuses.length)
      this.log.debug(
        `${statuses.length - applied} of ${statuses.length} statuses ignored (stale, duplicate or unknown app)`,
      );
    for (const status of newestPerApp(statuses))
      if (status.info.code === 'APP_ROLLOUT_FAILED') await this.autoRollback(status);
  }

  /** The app if this principal may see it; 404 otherwise, so that other projects' apps stay invisible. */
  async visible(p: Principal, id: string, opts: { deleted?: boolean } = {}): Promise<AppRow> {
    const row = opts.deleted ? await this.store.appEvenDeleted(id) : await this.store.app(id);
    if (!row || !canSee(p, { projectId: row.projectId, labels: row.spec.labels })) throw notFound('app', id);
    return row;
  }
}
