import { randomUUID } from 'node:crypto';

import type { AppDesired, NodeHeartbeat, ReplicaAssignment, ReplicaReport } from '@gantry/contracts';
import { Outbox } from '@gantry/database';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, In, Not } from 'typeorm';

import type { ReconcilePlan } from '../model/reconcile.js';
import { routeFor } from '../model/route.js';
import type { AppView, NodeView, ReplicaView } from '../model/types.js';
import { AppRow, NodeRow, ReplicaRow } from './entities.js';

const PIDS_LIMIT = 4096;

/** The scheduler's storage: the only code that touches its tables. */
@Injectable()
export class SchedulerStore {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly outbox: Outbox,
  ) {}

  flushOutbox(): Promise<void> {
    return this.outbox.flush();
  }

  async nodes(): Promise<NodeRow[]> {
    return this.ds.getRepository(NodeRow).find();
  }

  /** Records a node's heartbeat (never touching its assignment generation). */
  async saveHeartbeat(hb: NodeHeartbeat): Promise<void> {
    await this.ds
      .createQueryBuilder()
      .insert()
      .into(NodeRow)
      .values({
        id: hb.nodeId,
        address: hb.address,
        capacity: hb.capacity,
        labels: hb.labels,
        simulatedGpus: hb.simulatedGpus,
        lastHeartbeatAt: new Date(hb.at),
      })
      .orUpdate(['address', 'capacity', 'labels', 'simulated_gpus', 'last_heartbeat_at'], ['id'])
      .execute();
  }

  async setNodeHealth(id: string, health: string): Promise<void> {
    await this.ds.getRepository(NodeRow).update({ id }, { health });
  }

  async setNodeFlags(id: string, flags: { schedulable: boolean; draining: boolean }): Promise<void> {
    await this.ds.getRepository(NodeRow).update({ id }, flags);
  }

  /** Forgets a node: its row, and its assignment list (through the outbox). */
  async deleteNode(id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em.getRepository(NodeRow).delete({ id });
      await this.outbox.kvDelete(em, 'assignments', id);
    });
  }

  async app(id: string): Promise<AppView | undefined> {
    const row = await this.ds.getRepository(AppRow).findOneBy({ id });
    return row ? appView(row) : undefined;
  }

  /** Ids of apps that may still need work: everything not DELETED. */
  async liveAppIds(): Promise<string[]> {
    const rows = await this.ds
      .getRepository(AppRow)
      .find({ select: { id: true }, where: { state: Not('DELETED') } });
    return rows.map((r) => r.id);
  }

  async appIdsOnNodes(nodeIds: string[]): Promise<string[]> {
    if (nodeIds.length === 0) return [];
    const rows = await this.ds
      .getRepository(ReplicaRow)
      .createQueryBuilder('r')
      .select('DISTINCT r.app_id', 'app_id')
      .where({ nodeId: In(nodeIds) })
      .getRawMany<{ app_id: string }>();
    return rows.map((r) => r.app_id);
  }

  async replicas(where: { appId?: string } = {}): Promise<ReplicaView[]> {
    const rows = await this.ds.getRepository(ReplicaRow).find({ where });
    return rows.map(replicaView);
  }

  async replica(id: string): Promise<ReplicaRow | null> {
    return this.ds.getRepository(ReplicaRow).findOneBy({ id });
  }

  /**
   * Stores a newer desired state; a new app starts QUEUED. Returns false for a version already seen
   * or an app already deleted (the event is then a replay).
   */
  async saveDesired(d: AppDesired): Promise<boolean> {
    const repo = this.ds.getRepository(AppRow);
    const row = await repo.findOneBy({ id: d.appId });
    if (row && (row.desiredVersion >= d.version || row.state === 'DELETED')) return false;
    if (!row) {
      await repo.insert({
        id: d.appId,
        projectId: d.projectId,
        desiredVersion: d.version,
        lifecycle: d.lifecycle,
        spec: d.spec,
        rate: d.rate,
        state: 'QUEUED',
        info: { code: 'APP_QUEUED', message: 'waiting to be scheduled' },
        history: [{ state: 'QUEUED', date: d.at }],
        statusVersion: 1,
        lastTransitionAt: new Date(d.at),
      });
    } else {
      await repo.update(
        { id: d.appId },
        { desiredVersion: d.version, lifecycle: d.lifecycle, spec: d.spec, rate: d.rate },
      );
    }
    return true;
  }

  /**
   * Records what a node said about a replica. Returns the replica's app, or undefined when the report
   * is stale (older seq), from a node the replica is not on, or about a replica that no longer exists.
   */
  async saveReport(r: ReplicaReport): Promise<{ appId: string; firstReady: boolean } | undefined> {
    const repo = this.ds.getRepository(ReplicaRow);
    const row = await repo.findOneBy({ id: r.replicaId });
    if (!row || row.nodeId !== r.nodeId || r.seq <= row.reportSeq) return undefined;
    if (r.phase === 'STOPPED' && row.desired === 'STOP') {
      await repo.delete({ id: row.id });
      return { appId: row.appId, firstReady: false };
    }
    const firstReady = r.phase === 'READY' && !row.everReady;
    await repo.update(
      { id: row.id },
      {
        phase: r.phase,
        everReady: row.everReady || r.everReady || r.phase === 'READY',
        restarts: r.restarts,
        exitCode: r.exitCode ?? null,
        reason: r.reason ?? null,
        message: r.message ?? null,
        endpoint: r.endpoint ?? row.endpoint,
        reportSeq: r.seq,
      },
    );
    return { appId: row.appId, firstReady };
  }

  /**
   * Commits one reconcile plan atomically with everything it implies: replica rows, the app's status,
   * the assignment lists of the nodes it touched (generation + 1), the app's route, and the events —
   * the last three through the outbox.
   */
  async applyPlan(plan: ReconcilePlan, nodes: ReadonlyMap<string, NodeView>, now: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      const app = plan.app;
      const touched = new Set<string>();
      const before = await em.getRepository(ReplicaRow).findBy({ appId: app.id });
      for (const r of before)
        if (plan.stop.includes(r.id) || plan.forget.includes(r.id)) touched.add(r.nodeId);
      if (plan.forget.length) await em.getRepository(ReplicaRow).delete({ id: In(plan.forget) });
      if (plan.stop.length)
        await em.getRepository(ReplicaRow).update({ id: In(plan.stop) }, { desired: 'STOP' });
      for (const r of plan.create) {
        touched.add(r.nodeId);
        await em.getRepository(ReplicaRow).insert({ ...replicaRow(r), assignment: assignmentFor(app, r) });
      }
      const row: Partial<AppRow> = {
        state: app.state,
        info: app.info,
        history: app.history,
        statusVersion: app.statusVersion,
        availableReplicas: app.availableReplicas,
        allocatedUnits: app.allocatedUnits,
        lastTransitionAt: new Date(app.lastTransitionDate),
      };
      await em.getRepository(AppRow).update({ id: app.id }, row);

      for (const nodeId of touched) await this.writeAssignments(em, nodeId, now);
      await this.writeRoute(em, app, nodes, plan.deleted, now);
      if (plan.statusChanged) {
        await this.outbox.event(em, 'app.status.v1', {
          id: `${app.id}:status:${app.statusVersion}`,
          appId: app.id,
          projectId: app.projectId,
          version: app.statusVersion,
          at: now,
          state: app.state,
          info: app.info,
          availableReplicas: app.availableReplicas,
          allocatedUnits: app.allocatedUnits,
          history: app.history,
          lastTransitionDate: app.lastTransitionDate,
          rate: app.rate,
        });
      }
      for (const e of plan.events) {
        await this.outbox.event(em, 'app.event.v1', {
          id: randomUUID(),
          appId: app.id,
          projectId: app.projectId,
          at: now,
          source: 'scheduler',
          ...e,
          message: e.message.slice(0, 8192),
        });
      }
    });
  }

  /** Rewrites a node's whole assignment list under the next generation. */
  private async writeAssignments(em: EntityManager, nodeId: string, now: string): Promise<void> {
    const node = await em.getRepository(NodeRow).findOneBy({ id: nodeId });
    if (!node) return;
    const generation = node.generation + 1;
    await em.getRepository(NodeRow).update({ id: nodeId }, { generation });
    const replicas = await em
      .getRepository(ReplicaRow)
      .find({ where: { nodeId, desired: 'RUN' }, order: { id: 'ASC' } });
    await this.outbox.kvPut(em, 'assignments', nodeId, {
      nodeId,
      generation,
      updatedAt: now,
      replicas: replicas.map((r) => r.assignment),
    });
  }

  /** Publishes the app's route when its content changed; removes it once the app is deleted. */
  private async writeRoute(
    em: EntityManager,
    app: AppView,
    nodes: ReadonlyMap<string, NodeView>,
    deleted: boolean,
    now: string,
  ): Promise<void> {
    const row = await em.getRepository(AppRow).findOneByOrFail({ id: app.id });
    if (deleted) {
      await this.outbox.kvDelete(em, 'routes', app.id);
      return;
    }
    const replicas = (await em.getRepository(ReplicaRow).findBy({ appId: app.id })).map(replicaView);
    const route = routeFor(app, replicas, nodes);
    const digest = JSON.stringify(route);
    if (digest === row.routeDigest) return;
    const version = row.routeVersion + 1;
    await em.getRepository(AppRow).update({ id: app.id }, { routeVersion: version, routeDigest: digest });
    await this.outbox.kvPut(em, 'routes', app.id, { ...route, version, updatedAt: now });
  }
}

function appView(row: AppRow): AppView {
  return {
    id: row.id,
    projectId: row.projectId,
    desiredVersion: row.desiredVersion,
    lifecycle: row.lifecycle,
    spec: row.spec,
    rate: row.rate,
    state: row.state,
    info: row.info,
    history: row.history,
    statusVersion: row.statusVersion,
    availableReplicas: row.availableReplicas,
    allocatedUnits: row.allocatedUnits,
    lastTransitionDate: row.lastTransitionAt.toISOString(),
  };
}

function replicaView(row: ReplicaRow): ReplicaView {
  return {
    id: row.id,
    appId: row.appId,
    nodeId: row.nodeId,
    specVersion: row.specVersion,
    ...(row.specHash ? { specHash: row.specHash } : {}),
    image: row.assignment.image,
    desired: row.desired,
    cpu: row.cpu,
    memory: row.memory,
    units: row.units,
    gpus: row.gpus,
    phase: row.phase,
    everReady: row.everReady,
    restarts: row.restarts,
    ...(row.exitCode !== null ? { exitCode: row.exitCode } : {}),
    ...(row.reason ? { reason: row.reason } : {}),
    ...(row.message ? { message: row.message } : {}),
    ...(row.endpoint ? { endpoint: row.endpoint } : {}),
    reportSeq: row.reportSeq,
  };
}

function replicaRow(r: ReplicaView): Omit<ReplicaRow, 'assignment' | 'createdAt' | 'updatedAt'> {
  return {
    id: r.id,
    appId: r.appId,
    nodeId: r.nodeId,
    specVersion: r.specVersion,
    specHash: r.specHash ?? null,
    desired: r.desired,
    cpu: r.cpu,
    memory: r.memory,
    units: r.units,
    gpus: r.gpus,
    phase: r.phase,
    everReady: r.everReady,
    restarts: r.restarts,
    exitCode: r.exitCode ?? null,
    reason: r.reason ?? null,
    message: r.message ?? null,
    endpoint: r.endpoint ?? null,
    reportSeq: r.reportSeq,
  };
}

/** What a node must run for a replica, fixed from the app's spec when the replica is created. */
export function assignmentFor(app: AppView, r: ReplicaView): ReplicaAssignment {
  const s = app.spec;
  const ports = [...new Set([s.defaultHttpPort, ...(s.grpcPort ? [s.grpcPort] : []), s.probe.port])];
  return {
    replicaId: r.id,
    appId: app.id,
    projectId: app.projectId,
    image: s.image,
    ...(s.command ? { command: s.command } : {}),
    envVars: s.envVars,
    ports,
    probe: s.probe,
    resources: { cpu: r.cpu, memory: r.memory, pids: PIDS_LIMIT },
    gpus: r.gpus,
  };
}
