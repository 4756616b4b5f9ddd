import type { NodeAction, NodeList, NodeRecord } from '@gantry/contracts';
import { notFound } from '@gantry/errors';
import { Injectable, Logger } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { Downstream } from './downstream.js';

/**
 * The fleet, for operators: the scheduler owns nodes, so every read and command is a request to it
 * (`query.nodes.v1`, `command.node.v1`). Its refusals keep their meaning: unknown node → 404, deleting
 * a node that still holds replicas → 409; the scheduler not answering → 503/504.
 */
@Injectable()
export class NodesService {
  private readonly log = new Logger('NodesService');

  constructor(private readonly downstream: Downstream) {}

  async list(): Promise<NodeList> {
    const { nodes } = await this.downstream.ask('query.nodes.v1', {});
    return { items: nodes };
  }

  async get(id: string): Promise<NodeRecord> {
    const { nodes } = await this.downstream.ask('query.nodes.v1', { nodeId: id });
    const node = nodes.find((n) => n.id === id);
    if (!node) throw notFound('node', id);
    return node;
  }

  /** Cordon, uncordon or drain: answers the node's record once the scheduler has committed it. */
  async act(p: Principal, id: string, action: NodeAction): Promise<NodeRecord> {
    const { node } = await this.downstream.ask('command.node.v1', { nodeId: id, action });
    if (!node) throw notFound('node', id);
    this.log.log(`node ${id}: ${action} by ${p.tokenName}`);
    return node;
  }

  /** Forgets a node that holds no replica (drained) or is lost. */
  async delete(p: Principal, id: string): Promise<void> {
    await this.downstream.ask('command.node.v1', { nodeId: id, action: 'delete' });
    this.log.log(`node ${id}: deleted by ${p.tokenName}`);
  }
}
