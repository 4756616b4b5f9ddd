import { z } from 'zod';

import { AppStateSchema, AutomaticScalingSchema } from '../domain/app-spec.js';
import { EventIdSchema, IdSchema, IsoDateSchema } from './common.js';

/**
 * KV `scaling`, key = app id — scheduler → autoscaler. What the autoscaler needs of an app that scales
 * automatically and is asked to run: its bounds and metric, what one replica is allocated, how many
 * replicas it has now and which are ready. The scheduler deletes the key when the app stops, is
 * deleted, or goes back to a fixed count.
 */
export const ScalingEntrySchema = z.strictObject({
  appId: IdSchema,
  projectId: IdSchema,
  version: z.int().min(1),
  updatedAt: IsoDateSchema,
  /** The app's desired version: an `app.scale.v1` decided for an older one is still applied. */
  desiredVersion: z.int().min(1),
  state: AppStateSchema,
  automatic: AutomaticScalingSchema,
  /** The replica count the scheduler works towards (the autoscaler's last decision, within bounds). */
  replicas: z.int().min(0).max(10),
  /** When `replicas` last changed (the app's creation or start before any decision). */
  replicasSince: IsoDateSchema,
  /** What one replica is allocated: CPUs, memory bytes, GPUs. */
  perReplica: z.strictObject({ cpu: z.number().positive(), memory: z.int().min(0), gpu: z.int().min(0) }),
  /** Ready replicas: the ones averaged over, and the `<SELF>` a custom metric URL names. */
  ready: z.array(z.strictObject({ replicaId: IdSchema, nodeId: IdSchema })).max(100),
});
export type ScalingEntry = z.infer<typeof ScalingEntrySchema>;

/** What a replica used over the last sampling interval. */
export const ReplicaUsageSchema = z.strictObject({
  replicaId: IdSchema,
  appId: IdSchema,
  /** CPUs used on average over the interval (1.5 = one and a half CPUs busy). */
  cpu: z.number().min(0).max(4096),
  /** Memory in use, bytes (the cgroup's usage less its inactive file cache, as `docker stats`). */
  memory: z.int().min(0),
  /** Average utilisation of the replica's GPUs, percent; absent without GPUs or when unknown. */
  gpu: z.number().min(0).max(100).optional(),
  /** GPU memory in use, bytes, all its GPUs together. */
  gpuMemory: z.int().min(0).optional(),
});
export type ReplicaUsage = z.infer<typeof ReplicaUsageSchema>;

/** `node.usage.v1` (core NATS, lossy) — node-agent → autoscaler: its running replicas' usage. */
export const NodeUsageSchema = z.strictObject({
  nodeId: IdSchema,
  at: IsoDateSchema,
  /** Over how long the figures were measured, ms. */
  intervalMs: z.int().min(1).max(3_600_000),
  replicas: z.array(ReplicaUsageSchema).max(10_000),
});
export type NodeUsage = z.infer<typeof NodeUsageSchema>;

/**
 * `ingress.traffic.v1` (core NATS, lossy) — ingress-router → autoscaler: requests per app since the
 * last report, and requests held now for apps scaled to zero (sent at once when the first is held,
 * so that the app wakes without waiting for the next report).
 */
export const IngressTrafficSchema = z.strictObject({
  ingressId: z.string().min(1).max(200),
  at: IsoDateSchema,
  intervalMs: z.int().min(0).max(3_600_000),
  apps: z
    .array(
      z.strictObject({
        appId: IdSchema,
        /** Requests that arrived during the interval. */
        requests: z.int().min(0),
        /** Requests waiting right now for a replica of an app at zero. */
        held: z.int().min(0),
      }),
    )
    .max(100_000),
});
export type IngressTraffic = z.infer<typeof IngressTrafficSchema>;

/**
 * `app.scale.v1` — autoscaler → scheduler. A decision about an automatic app: the replica count to
 * run and why (the app event the scheduler records), or that its metric cannot be read (`problem`,
 * shown in `status.info` until a later decision has none). The scheduler keeps the count within the
 * app's bounds, and ignores a decision about an app that no longer scales automatically.
 */
export const AppScaleSchema = z.strictObject({
  id: EventIdSchema,
  appId: IdSchema,
  at: IsoDateSchema,
  /** The desired version the decision was made for. */
  desiredVersion: z.int().min(1),
  replicas: z.int().min(0).max(10),
  /** Why, with the inputs: "cpu 183 % of target 50 % over 60 s: 2 → 4 replicas". */
  message: z.string().max(2048),
  /** Set while the metric cannot be read (no decision is made on it then). */
  problem: z.string().max(2048).optional(),
});
export type AppScale = z.infer<typeof AppScaleSchema>;

/**
 * `query.replica-scrape.v1`, addressed to one node (`.<nodeId>`) — autoscaler → node-agent: an HTTP GET
 * the agent makes to one of its own replicas (`http://<replica>:port/path`), for a custom metric URL
 * naming `<SELF>`. The agent reaches only its own replicas' containers.
 */
export const ReplicaScrapeQuerySchema = z.strictObject({
  replicaId: IdSchema,
  port: z.int().min(1).max(65535),
  /** Path and query, starting with `/`. */
  path: z.string().startsWith('/').max(4096),
  timeoutMs: z.int().min(1).max(30_000),
});
export const REPLICA_SCRAPE_MAX_BYTES = 256 * 1024;
export const ReplicaScrapeResultSchema = z.strictObject({
  status: z.int().min(100).max(599),
  contentType: z.string().max(256).optional(),
  /** The body as text, at most REPLICA_SCRAPE_MAX_BYTES (a longer one is an error, not a cut). */
  body: z.string().max(REPLICA_SCRAPE_MAX_BYTES),
});
