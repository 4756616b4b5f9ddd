import type {
  AppDesired,
  NodeHeartbeat,
  QueryRequest,
  QueryResponse,
  ReplicaReport,
} from '@gantry/contracts';
import { OnEvent, OnQuery, OnSignal } from '@gantry/messaging';
import { Controller } from '@nestjs/common';

import { NodeAdmin } from './node-admin.js';
import { NodeRegistry } from './node-registry.js';
import { Reconciler } from './reconciler.js';
import { SchedulerStore } from './store/scheduler-store.js';

/** NATS handlers: every event records what it says, then wakes the reconciler for the app it concerns. */
@Controller()
export class SchedulerController {
  constructor(
    private readonly store: SchedulerStore,
    private readonly reconciler: Reconciler,
    private readonly registry: NodeRegistry,
    private readonly admin: NodeAdmin,
  ) {}

  @OnQuery('query.nodes.v1')
  async nodes(q: QueryRequest<'query.nodes.v1'>): Promise<QueryResponse<'query.nodes.v1'>> {
    return { nodes: await this.admin.records(q.nodeId) };
  }

  @OnQuery('command.node.v1')
  async nodeCommand(c: QueryRequest<'command.node.v1'>): Promise<QueryResponse<'command.node.v1'>> {
    return { node: await this.admin.command(c) };
  }

  @OnEvent('app.desired.v1')
  onDesired(desired: AppDesired): Promise<void> {
    return this.reconciler.serial(async () => {
      if (await this.store.saveDesired(desired)) await this.reconciler.reconcileLocked(desired.appId);
    });
  }

  @OnEvent('node.report.v1')
  onReport(report: ReplicaReport): Promise<void> {
    return this.reconciler.serial(async () => {
      const saved = await this.store.saveReport(report);
      if (saved) await this.reconciler.reconcileLocked(saved.appId);
    });
  }

  @OnSignal('node.heartbeat.v1')
  async onHeartbeat(hb: NodeHeartbeat): Promise<void> {
    const changed = await this.reconciler.serial(() => this.registry.observe(hb, Date.now()));
    if (changed) await this.reconciler.resync();
  }
}
