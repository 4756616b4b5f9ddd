import { z } from 'zod';

import { IdSchema, IsoDateSchema } from './common.js';
import { GpuSchema } from './node.js';

export const NODE_STATES = ['READY', 'NOT_READY', 'LOST', 'CORDONED', 'DRAINING'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** A node as operators see it: health, capacity, what is allocated and which app holds which GPU. */
export const NodeRecordSchema = z.strictObject({
  id: IdSchema,
  address: z.string(),
  /** Health first (LOST, NOT_READY), then the operator's choice (DRAINING, CORDONED), else READY. */
  state: z.enum(NODE_STATES),
  schedulable: z.boolean(),
  draining: z.boolean(),
  simulatedGpus: z.boolean(),
  labels: z.record(z.string(), z.string()),
  lastHeartbeatAt: IsoDateSchema,
  capacity: z.strictObject({ cpus: z.number(), memory: z.int(), gpus: z.int() }),
  allocated: z.strictObject({ cpus: z.number(), memory: z.int(), gpus: z.int() }),
  gpus: z.array(GpuSchema.extend({ appId: IdSchema.optional(), replicaId: IdSchema.optional() }).strict()),
  replicas: z.array(
    z.strictObject({ replicaId: IdSchema, appId: IdSchema, phase: z.string(), units: z.int() }),
  ),
});
export type NodeRecord = z.infer<typeof NodeRecordSchema>;

/** `query.nodes.v1` — api-gateway → scheduler: every node, or one. */
export const NodeQuerySchema = z.strictObject({ nodeId: IdSchema.optional() });
export const NodeQueryResultSchema = z.strictObject({ nodes: z.array(NodeRecordSchema) });

/**
 * `command.node.v1` — api-gateway → scheduler: an operator's decision about a node, committed by
 * the active scheduler before it answers with the node's record. `delete` only works on a node that
 * holds no replica (drain it first) or is lost.
 */
export const NodeCommandSchema = z.strictObject({
  nodeId: IdSchema,
  action: z.enum(['cordon', 'uncordon', 'drain', 'delete']),
});
export type NodeCommand = z.infer<typeof NodeCommandSchema>;
export const NodeCommandResultSchema = z.strictObject({ node: NodeRecordSchema.nullable() });
