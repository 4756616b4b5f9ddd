import type { NodeCommand, NodeRecord } from '@gantry/contracts';
import { conflict, notFound } from '@gantry/errors';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';

import { nodeRecord } from './model/node-record.js';
import { type Known, NodeRegistry } from './node-registry.js';
import { Reconciler } from './reconciler.js';

/** Operators' view of the fleet and their controls over it (cordon, uncordon, drain, delete). */
@Injectable()
export class NodeAdmin implements OnModuleInit {
  constructor(
    private readonly registry: NodeRegistry,
    private readonly reconciler: Reconciler,
  ) {}

  onModuleInit(): void {
    const records = () => this.records();
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      collect: (g: Gauge) => Promise<void>,
    ) => {
      register.removeSingleMetric(name);
      new Gauge({
        name,
        help,
        labelNames,
        async collect() {
          this.reset();
          await collect(this);
        },
      });
    };
    gauge('gantry_node_capacity', 'Capacity of each node', ['node', 'resource', 'state'], async (g) => {
      for (const n of await records()) {
        g.set({ node: n.id, resource: 'cpu', state: n.state }, n.capacity.cpus);
        g.set({ node: n.id, resource: 'memory_bytes', state: n.state }, n.capacity.memory);
        g.set({ node: n.id, resource: 'gpu', state: n.state }, n.capacity.gpus);
      }
    });
    gauge(
      'gantry_node_allocated',
      'Resources held by replicas on each node',
      ['node', 'resource'],
      async (g) => {
        for (const n of await records()) {
          g.set({ node: n.id, resource: 'cpu' }, n.allocated.cpus);
          g.set({ node: n.id, resource: 'memory_bytes' }, n.allocated.memory);
          g.set({ node: n.id, resource: 'gpu' }, n.allocated.gpus);
        }
      },
    );
    gauge(
      'gantry_gpus',
      'GPUs of the fleet by model, allocated or free',
      ['model', 'allocation'],
      async (g) => {
        for (const n of await records())
          for (const gpu of n.gpus)
            g.inc({ model: gpu.model, allocation: gpu.replicaId ? 'allocated' : 'free' });
      },
    );
  }

  async records(nodeId?: string): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    for (const id of [...this.registry.views().keys()].sort()) {
      if (nodeId && id !== nodeId) continue;
      const d = this.registry.details(id);
      if (d) out.push(nodeRecord(d.view, d, this.reconciler.fleet.replicasOn(id)));
    }
    if (nodeId && out.length === 0) throw notFound('node', nodeId);
    return out;
  }

  /** Applies an operator's command, then reconciles the apps it affects; answers with the node's record. */
  async command(c: NodeCommand): Promise<NodeRecord | null> {
    const d = this.registry.details(c.nodeId);
    if (!d) throw notFound('node', c.nodeId);
    const apps = this.reconciler.fleet.appIdsOn([c.nodeId]);
    switch (c.action) {
      case 'cordon':
        await this.registry.setFlags(c.nodeId, { schedulable: false, draining: d.view.draining });
        break;
      case 'uncordon':
        await this.registry.setFlags(c.nodeId, { schedulable: true, draining: false });
        break;
      case 'drain':
        await this.registry.setFlags(c.nodeId, { schedulable: false, draining: true });
        break;
      case 'delete': {
        // Checked and done inside a pass, so that nothing is placed on the node in between; taken
        // back if that pass does not commit.
        let forgotten: Known | undefined;
        await this.reconciler
          .submit((fleet, ch) => {
            const held = fleet.replicasOn(c.nodeId);
            const node = this.registry.details(c.nodeId);
            if (!node) throw notFound('node', c.nodeId);
            if (held.length > 0 && node.view.health !== 'LOST')
              throw conflict(`node ${c.nodeId} still holds ${held.length} replica(s): drain it first`, {
                replicas: held.map((r) => r.id),
              });
            forgotten = this.registry.forget(c.nodeId);
            fleet.removeNode(c.nodeId, ch);
            return { apps: held.map((r) => r.appId), result: undefined };
          })
          .catch((error: unknown) => {
            if (forgotten) this.registry.restore(c.nodeId, forgotten);
            throw error;
          });
        return null;
      }
    }
    await this.reconciler.reconcile(apps);
    return (await this.records(c.nodeId))[0] ?? null;
  }
}
