/**
 * The wire catalog: every stream, subject, payload schema, query and KV bucket Gantry uses.
 *
 * WARNING — these names are on the wire and in JetStream's storage. Renaming a subject, stream,
 * bucket or consumer, or changing a payload incompatibly, strands stored messages and durable
 * consumers: add a new version (`.v2`) next to the old one, migrate consumers, then retire the old.
 *
 * Names here are logical. On the wire they are prefixed with a namespace (see naming.ts) so that
 * several installations, or parallel tests, can share one NATS server.
 */
import type { z } from 'zod';

import {
  AppDesiredSchema,
  AppEventBatchSchema,
  AppEventSchema,
  AppStatusBatchSchema,
  AppStatusChangedSchema,
} from './app.js';
import {
  AppScaleSchema,
  IngressTrafficSchema,
  NodeUsageSchema,
  ReplicaScrapeQuerySchema,
  ReplicaScrapeResultSchema,
  ScalingEntrySchema,
} from './autoscaling.js';
import { UsageQuerySchema, UsageRecordSchema, UsageResultSchema } from './billing.js';
import { DeadLetterSchema } from './dead-letter.js';
import {
  EventQueryResultSchema,
  EventQuerySchema,
  LogBatchSchema,
  LogQueryResultSchema,
  LogQuerySchema,
} from './logs.js';
import {
  NodeAssignmentIndexSchema,
  NodeHeartbeatSchema,
  ReplicaAssignmentSchema,
  ReplicaReportSchema,
} from './node.js';
import {
  NodeCommandResultSchema,
  NodeCommandSchema,
  NodeQueryResultSchema,
  NodeQuerySchema,
} from './nodes.js';
import { RegistryAuthQuerySchema, RegistryAuthResultSchema } from './registries.js';
import { RouteEntrySchema } from './routes.js';
import { TokenEntrySchema } from './tokens.js';

/** JetStream streams. `subjects` are logical subject filters. */
export const STREAMS = {
  APPS: {
    subjects: ['app.>'],
    description: 'app desired state, status changes and app events',
    maxAgeSeconds: 0,
  },
  NODES: {
    subjects: ['node.report.>'],
    description: 'replica reports from node agents',
    maxAgeSeconds: 7 * 86_400,
  },
  LOGS: { subjects: ['logs.>'], description: 'container log batches', maxAgeSeconds: 3 * 86_400 },
  BILLING: { subjects: ['billing.>'], description: 'closed usage periods', maxAgeSeconds: 0 },
  DLQ: { subjects: ['dlq.>'], description: 'messages no consumer could handle', maxAgeSeconds: 30 * 86_400 },
} as const;
export type StreamName = keyof typeof STREAMS;

/** State-changing events: JetStream, durable consumers, ack after commit, idempotent handlers. */
export const EVENTS = {
  'app.desired.v1': { stream: 'APPS', schema: AppDesiredSchema },
  /**
   * Superseded by `app.status.v2`; nothing publishes it. Still consumed, so that statuses stored
   * before an upgrade (in the stream, or in the scheduler's outbox) are applied and billed. Retire it
   * once every installation has run the v2 scheduler with its outbox drained and its consumers caught up.
   */
  'app.status.v1': { stream: 'APPS', schema: AppStatusChangedSchema },
  'app.status.v2': { stream: 'APPS', schema: AppStatusBatchSchema },
  /** Superseded by `app.event.v2`; nothing publishes it. Still consumed, as `app.status.v1` is. */
  'app.event.v1': { stream: 'APPS', schema: AppEventSchema },
  'app.event.v2': { stream: 'APPS', schema: AppEventBatchSchema },
  'app.scale.v1': { stream: 'APPS', schema: AppScaleSchema },
  'node.report.v1': { stream: 'NODES', schema: ReplicaReportSchema },
  'logs.batch.v1': { stream: 'LOGS', schema: LogBatchSchema },
  'billing.usage.v1': { stream: 'BILLING', schema: UsageRecordSchema },
  'dlq.v1': { stream: 'DLQ', schema: DeadLetterSchema },
} as const satisfies Record<string, { stream: StreamName; schema: z.ZodType }>;
export type EventSubject = keyof typeof EVENTS;
export type EventPayload<S extends EventSubject> = z.infer<(typeof EVENTS)[S]['schema']>;

/** What may be lost: core NATS, no stream. */
export const SIGNALS = {
  'node.heartbeat.v1': { schema: NodeHeartbeatSchema },
  'node.usage.v1': { schema: NodeUsageSchema },
  'ingress.traffic.v1': { schema: IngressTrafficSchema },
} as const satisfies Record<string, { schema: z.ZodType }>;
export type SignalSubject = keyof typeof SIGNALS;
export type SignalPayload<S extends SignalSubject> = z.infer<(typeof SIGNALS)[S]['schema']>;

/**
 * Request/reply over core NATS, served by a queue group of the owning service — or, for an
 * `addressed` query, by one instance: the request goes to `<subject>.<address>` (a node id).
 */
export const QUERIES = {
  'query.logs.v1': { owner: 'log-collector', request: LogQuerySchema, response: LogQueryResultSchema },
  'query.events.v1': { owner: 'log-collector', request: EventQuerySchema, response: EventQueryResultSchema },
  'query.usage.v1': { owner: 'billing-meter', request: UsageQuerySchema, response: UsageResultSchema },
  'query.nodes.v1': { owner: 'scheduler', request: NodeQuerySchema, response: NodeQueryResultSchema },
  'command.node.v1': { owner: 'scheduler', request: NodeCommandSchema, response: NodeCommandResultSchema },
  'query.registry-auth.v1': {
    owner: 'api-gateway',
    request: RegistryAuthQuerySchema,
    response: RegistryAuthResultSchema,
  },
  'query.replica-scrape.v1': {
    owner: 'node-agent',
    request: ReplicaScrapeQuerySchema,
    response: ReplicaScrapeResultSchema,
    addressed: true,
  },
} as const satisfies Record<
  string,
  { owner: string; request: z.ZodType; response: z.ZodType; addressed?: boolean }
>;
export type QuerySubject = keyof typeof QUERIES;
export type QueryRequest<S extends QuerySubject> = z.infer<(typeof QUERIES)[S]['request']>;
export type QueryResponse<S extends QuerySubject> = z.infer<(typeof QUERIES)[S]['response']>;

/** NATS KV buckets: state many readers watch. */
export const BUCKETS = {
  assignments: {
    schema: NodeAssignmentIndexSchema,
    description: 'what each node must run (key: node id); large replicas by reference',
  },
  'replica-assignments': {
    schema: ReplicaAssignmentSchema,
    description: 'the assignment of a replica too large to travel inline (key: node id.replica id)',
  },
  scaling: {
    schema: ScalingEntrySchema,
    description: 'what the autoscaler needs of each automatic app asked to run (key: app id)',
  },
  routes: { schema: RouteEntrySchema, description: 'how to reach each app (key: app id)' },
  tokens: {
    schema: TokenEntrySchema,
    description: 'what each bearer token may reach (key: sha256 of the secret)',
  },
} as const satisfies Record<string, { schema: z.ZodType; description: string }>;
export type BucketName = keyof typeof BUCKETS;
export type BucketValue<B extends BucketName> = z.infer<(typeof BUCKETS)[B]['schema']>;

/**
 * Durable consumers: which service reads which event. The durable's wire name is
 * `durableName(service, subject)`. One entry per (service, subject).
 */
export const CONSUMERS = [
  { service: 'scheduler', subject: 'app.desired.v1' },
  { service: 'scheduler', subject: 'node.report.v1' },
  { service: 'scheduler', subject: 'app.scale.v1' },
  { service: 'api-gateway', subject: 'app.status.v1' },
  { service: 'api-gateway', subject: 'app.status.v2' },
  { service: 'billing-meter', subject: 'app.status.v1' },
  { service: 'billing-meter', subject: 'app.status.v2' },
  { service: 'log-collector', subject: 'app.event.v1' },
  { service: 'log-collector', subject: 'app.event.v2' },
  { service: 'log-collector', subject: 'logs.batch.v1' },
] as const satisfies ReadonlyArray<{ service: string; subject: EventSubject }>;
