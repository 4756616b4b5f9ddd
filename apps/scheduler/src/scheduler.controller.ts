import type {
  AppDesired,
  AppScale,
  NodeHeartbeat,
  QueryRequest,
  QueryResponse,
  ReplicaReport,
} from '@gantry/contracts';
import { MessageContext, OnEvent, OnQuery, OnSignal } from '@gantry/messaging';
import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';

import { schedulerMetrics } from './metrics.js';
import { NodeAdmin } from './node-admin.js';
import { NodeRegistry } from './node-registry.js';
import { Reconciler } from './reconciler.js';

/** NATS handlers: every event records what it says in the next pass, which reconciles the app it concerns. */
@Controller()
export class SchedulerController {
  constructor(
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

  // Many at once: the reconciler commits them together, and the payloads carry the versions
  // (desired version, report seq) that order them.
  @OnEvent('app.desired.v1', { concurrency: 1024 })
  async onDesired(@Payload() desired: AppDesired, @Ctx() ctx: MessageContext): Promise<void> {
    const news = await this.reconciler.submit((fleet, ch) => {
      const saved = fleet.saveDesired(desired, ch);
      return { apps: saved ? [desired.appId] : [], result: saved };
    });
    if (news && ctx.deliveries === 1 && ctx.storedAt !== undefined)
      schedulerMetrics.decision.observe(Math.max(0, Date.now() - ctx.storedAt) / 1000);
  }

  // Decisions carry absolute counts: the newest applied wins, and a replay changes nothing.
  @OnEvent('app.scale.v1', { concurrency: 256 })
  onScale(scale: AppScale): Promise<void> {
    return this.reconciler.submit((fleet, ch) => {
      const appId = fleet.saveScale(scale, ch);
      return { apps: appId ? [appId] : [], result: undefined };
    });
  }

  @OnEvent('node.report.v1', { concurrency: 1024 })
  onReport(report: ReplicaReport): Promise<void> {
    return this.reconciler.submit((fleet, ch) => {
      const appId = fleet.saveReport(report, ch);
      return { apps: appId ? [appId] : [], result: undefined };
    });
  }

  @OnSignal('node.heartbeat.v1')
  async onHeartbeat(hb: NodeHeartbeat): Promise<void> {
    if (await this.registry.observe(hb, Date.now())) this.reconciler.nodesChanged([hb.nodeId]);
    // Replicas told to stop whose containers are gone without a report (they vanished while the
    // agent was down): the heartbeat says so, and their apps go on (STOPPING → STOPPED, drains end).
    if (this.reconciler.fleet.goneFrom(hb).length > 0)
      await this.reconciler.submit((fleet, ch) => ({ apps: fleet.dropGone(hb, ch), result: undefined }));
  }
}
