import { NodeIdSchema, type NodeList, type NodeRecord } from '@gantry/contracts';
import { notFound } from '@gantry/errors';
import { Controller, Delete, Get, HttpCode, Param, Put, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { NodesService } from '../services/nodes.service.js';
import { AdminOnly, AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/** An id that cannot be a node's names no node: 404, as for any unknown node. */
function nodeId(id: string): string {
  if (!NodeIdSchema.safeParse(id).success) throw notFound('node', JSON.stringify(id.slice(0, 64)));
  return id;
}

/**
 * `/v1/node` (DESIGN.md "API and CLI", operators): the fleet as the scheduler sees it, and the
 * operator's controls over a node. Admin tokens only. Commands answer once the scheduler has
 * committed them: cordon, uncordon and drain with the node's record, delete with 204.
 */
@Controller('v1/node')
@UseGuards(JsonBodyGuard, AuthGuard)
@AdminOnly(true)
export class NodesController {
  constructor(private readonly nodes: NodesService) {}

  @Get()
  list(@Query() query: unknown): Promise<NodeList> {
    parseInput(NoQuerySchema, query);
    return this.nodes.list();
  }

  @Get(':id')
  get(@Param('id') id: string, @Query() query: unknown): Promise<NodeRecord> {
    parseInput(NoQuerySchema, query);
    return this.nodes.get(nodeId(id));
  }

  /** No new replicas on the node; those it has keep running. */
  @Put(':id/cordon')
  cordon(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<NodeRecord> {
    parseInput(NoQuerySchema, query);
    return this.nodes.act(p, nodeId(id), 'cordon');
  }

  /** Schedulable again (ends a cordon or a drain). */
  @Put(':id/uncordon')
  uncordon(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<NodeRecord> {
    parseInput(NoQuerySchema, query);
    return this.nodes.act(p, nodeId(id), 'uncordon');
  }

  /** Cordons the node and moves its replicas elsewhere, each replaced before it stops. */
  @Put(':id/drain')
  drain(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<NodeRecord> {
    parseInput(NoQuerySchema, query);
    return this.nodes.act(p, nodeId(id), 'drain');
  }

  /** Forgets the node: 409 while it still holds replicas (drain it first) unless it is lost. */
  @Delete(':id')
  @HttpCode(204)
  async delete(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.nodes.delete(p, nodeId(id));
  }
}
