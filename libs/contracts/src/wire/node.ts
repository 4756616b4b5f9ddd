import { z } from 'zod';

import { EnvVarSchema, LivenessProbeSchema, PortSchema } from '../domain/app-spec.js';
import { INFO_CODES } from '../domain/info-codes.js';
import { EventIdSchema, IdSchema, IsoDateSchema } from './common.js';

export const GpuSchema = z.strictObject({
  index: z.int().min(0),
  uuid: z.string().min(1).max(128),
  model: z.string().max(128),
  /** Bytes, as every memory figure Gantry shows (nvidia-smi's MiB × 2^20; 0 when it says [N/A]). */
  memory: z.int().min(0),
});
export type Gpu = z.infer<typeof GpuSchema>;

/** `node.heartbeat.v1` (core NATS, lossy) — node-agent → scheduler, every heartbeat interval. */
export const NodeHeartbeatSchema = z.strictObject({
  nodeId: IdSchema,
  /** Address the node publishes app ports on; the ingress connects there. */
  address: z.string().min(1).max(255),
  at: IsoDateSchema,
  agentVersion: z.string().max(64),
  capacity: z.strictObject({
    cpus: z.number().positive(),
    memory: z.int().min(0),
    gpus: z.array(GpuSchema).max(64),
  }),
  /** True when the GPUs are simulated (development and tests): no device request is made. */
  simulatedGpus: z.boolean(),
  labels: z.record(z.string(), z.string()),
  /** Highest assignment generation the agent has applied. */
  appliedGeneration: z.int().min(0),
  replicas: z.array(z.strictObject({ replicaId: IdSchema, phase: z.string().max(32) })).max(10_000),
  /**
   * The assignment generation the agent's last look at its containers was made under. When present,
   * `replicas` lists every replica the agent runs or still has a container of (phase `PRESENT` for a
   * container it has not taken charge of yet), so that a replica it was told to stop and that is not
   * listed is gone — even when no report ever said so (its container vanished while the agent was
   * down). Absent from agents that predate it.
   */
  observedGeneration: z.int().min(0).optional(),
});
export type NodeHeartbeat = z.infer<typeof NodeHeartbeatSchema>;

/** One replica a node must run: everything the agent needs, nothing it must look up. */
export const ReplicaAssignmentSchema = z.strictObject({
  replicaId: IdSchema,
  appId: IdSchema,
  projectId: IdSchema,
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  envVars: z.array(EnvVarSchema),
  /** Container ports to publish on the node's address. The first is the app's HTTP port. */
  ports: z.array(PortSchema).min(1),
  /** Readiness (`path`, `port`), and liveness after `startupGraceSeconds` (absent: 0) when set. */
  probe: z.strictObject({
    path: z.string().startsWith('/'),
    port: PortSchema,
    startupGraceSeconds: z.int().min(0).max(3600).optional(),
    liveness: LivenessProbeSchema.optional(),
  }),
  resources: z.strictObject({
    cpu: z.number().positive(),
    memory: z.int().min(0),
    pids: z.int().min(1),
  }),
  gpus: z.array(z.strictObject({ index: z.int().min(0), uuid: z.string() })),
  /**
   * The replica is placed as its app starts (after create or start): an image named by tag that the
   * node holds from a registry is pulled again when the registry's digest for the tag differs ("push
   * the same tag, then stop/start"). Absent: the node's copy is used as it is.
   */
  refreshImage: z.boolean().optional(),
});
export type ReplicaAssignment = z.infer<typeof ReplicaAssignmentSchema>;

/**
 * Everything a node must run, each replica whole: what the agent converges on (it stops what this
 * does not list). `generation` only grows (fencing). Stored as a `NodeAssignmentIndex`.
 */
export const NodeAssignmentsSchema = z.strictObject({
  nodeId: IdSchema,
  generation: z.int().min(0),
  updatedAt: IsoDateSchema,
  replicas: z.array(ReplicaAssignmentSchema),
});
export type NodeAssignments = z.infer<typeof NodeAssignmentsSchema>;

/**
 * A replica whose assignment is stored under its own key of KV `replica-assignments`
 * (`replicaAssignmentKey(nodeId, replicaId)`), written before any index that refers to it.
 */
export const ReplicaRefSchema = z.strictObject({ replicaId: IdSchema, ref: z.literal(true) });
export type ReplicaRef = z.infer<typeof ReplicaRefSchema>;

/**
 * An assignment JSON larger than this is stored under its own key and referred to from its node's
 * index: however large tenants make their specs (env vars, commands), a node's index stays far below
 * NATS's message limit (a replica costs it at most this much, or a reference).
 */
export const INLINE_ASSIGNMENT_MAX_BYTES = 4096;

/**
 * KV `assignments`, key = node id — scheduler → node-agent. A node's assignment list: small replicas
 * inline, large ones by reference (`ReplicaRef`). Lists written before references existed hold every
 * replica inline, and read the same.
 */
export const NodeAssignmentIndexSchema = z.strictObject({
  nodeId: IdSchema,
  generation: z.int().min(0),
  updatedAt: IsoDateSchema,
  replicas: z.array(z.union([ReplicaAssignmentSchema, ReplicaRefSchema])),
});
export type NodeAssignmentIndex = z.infer<typeof NodeAssignmentIndexSchema>;

/** The key of a replica's own assignment in KV `replica-assignments`: under its node's prefix. */
export const replicaAssignmentKey = (nodeId: string, replicaId: string): string => `${nodeId}.${replicaId}`;

const inline = new WeakMap<ReplicaAssignment, boolean>();
const utf8 = new TextEncoder();

/**
 * How a replica's assignment travels in its node's index: inline when small, else by reference.
 * Decided once per assignment object (assignments never change).
 */
export function indexEntry(a: ReplicaAssignment): ReplicaAssignment | ReplicaRef {
  let small = inline.get(a);
  if (small === undefined) {
    small = utf8.encode(JSON.stringify(a)).length <= INLINE_ASSIGNMENT_MAX_BYTES;
    inline.set(a, small);
  }
  return small ? a : { replicaId: a.replicaId, ref: true };
}

export const REPLICA_PHASES = [
  'PULLING',
  'STARTING',
  'READY',
  'NOT_READY',
  'RESTARTING',
  'FAILED',
  'STOPPED',
] as const;
export type ReplicaPhase = (typeof REPLICA_PHASES)[number];

/** `node.report.v1` — node-agent → scheduler, whenever a replica's phase changes. */
export const ReplicaReportSchema = z.strictObject({
  id: EventIdSchema,
  nodeId: IdSchema,
  replicaId: IdSchema,
  appId: IdSchema,
  /** Monotonic per replica across agent restarts; the scheduler keeps the newest. */
  seq: z.int().min(0),
  at: IsoDateSchema,
  phase: z.enum(REPLICA_PHASES),
  /** Where the replica serves: node address and container port → host port. */
  endpoint: z.strictObject({ address: z.string(), ports: z.record(z.string(), PortSchema) }).optional(),
  restarts: z.int().min(0),
  everReady: z.boolean(),
  exitCode: z.int().optional(),
  reason: z.enum(INFO_CODES).optional(),
  message: z.string().max(8192).optional(),
});
export type ReplicaReport = z.infer<typeof ReplicaReportSchema>;
