import {
  type BucketName,
  BUCKETS,
  type StreamName,
  STREAMS,
  wireBucket,
  wireStream,
  wireSubject,
} from '@gantry/contracts';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
  type StreamUpdateConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';

const DUPLICATE_WINDOW_SECONDS = 120;
/** JetStream's own ceiling on a stream's replicas. */
export const MAX_REPLICAS = 5;

export interface TopologyOptions {
  /**
   * Replicas of each stream and bucket (1–5): what a missing one is created with, and the least an
   * existing one is raised to. Default 1; 3 on a three-server cluster.
   */
  replicas?: number;
}

/** A stream as the catalog defines it: the configuration a missing stream is created with. */
export function catalogStreamConfig(ns: string, name: StreamName, replicas: number): StreamConfig {
  const def = STREAMS[name];
  return {
    name: wireStream(ns, name),
    subjects: def.subjects.map((s) => wireSubject(ns, s)),
    description: def.description,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(def.maxAgeSeconds * 1000),
    duplicate_window: nanos(DUPLICATE_WINDOW_SECONDS * 1000),
    num_replicas: replicas,
  } as StreamConfig;
}

/**
 * What to change in an existing stream so that it serves the platform, leaving every choice of its
 * operator alone. The platform owns only what its correctness needs, each as a floor: the catalog's
 * subjects are present (others kept), its description, a duplicate window at least the catalog's
 * (retries are deduplicated within it; never longer than the stream's `max_age`), and at least
 * `wanted.num_replicas` replicas. Nothing is ever lowered; limits, retention age, placement,
 * compression… stay as they are. Undefined when nothing needs to change.
 */
export function streamChanges(
  current: StreamConfig,
  wanted: StreamConfig,
): Partial<StreamUpdateConfig> | undefined {
  const changes: Partial<StreamUpdateConfig> = {};
  const subjects = current.subjects ?? [];
  const missing = wanted.subjects.filter((s) => !subjects.includes(s));
  if (missing.length > 0) changes.subjects = [...subjects, ...missing];
  if (wanted.description !== undefined && current.description !== wanted.description)
    changes.description = wanted.description;
  const maxAge = current.max_age ?? 0;
  const window = maxAge > 0 ? Math.min(wanted.duplicate_window ?? 0, maxAge) : (wanted.duplicate_window ?? 0);
  if ((current.duplicate_window ?? 0) < window) changes.duplicate_window = window;
  const replicas = replicasChange(current, wanted.num_replicas ?? 1);
  if (replicas !== undefined) changes.num_replicas = replicas;
  return Object.keys(changes).length > 0 ? changes : undefined;
}

/** The replica count to raise a stream (or bucket) to, or undefined: replicas are never lowered. */
export function replicasChange(
  current: Pick<StreamConfig, 'num_replicas'>,
  wanted: number,
): number | undefined {
  return (current.num_replicas ?? 1) < wanted ? wanted : undefined;
}

/**
 * Creates what is missing of the namespace's streams and KV buckets, and brings existing ones up to
 * what the platform needs (`streamChanges`; a bucket only gains replicas). Never downgrades an
 * operator's stream: more replicas, longer or shorter retention, limits set by hand all stay.
 * Idempotent and safe to run from every service at once.
 */
export async function ensureTopology(
  nc: NatsConnection,
  ns: string,
  opts: TopologyOptions = {},
): Promise<void> {
  const replicas = checkedReplicas(opts.replicas ?? 1);
  const jsm = await jetstreamManager(nc);
  for (const name of Object.keys(STREAMS) as StreamName[]) {
    const wanted = catalogStreamConfig(ns, name, replicas);
    await ensureStream(
      jsm,
      wanted,
      (current) => streamChanges(current, wanted),
      () => jsm.streams.add(wanted),
    );
  }
  const kvm = new Kvm(nc);
  for (const bucket of Object.keys(BUCKETS) as BucketName[]) {
    const name = wireBucket(ns, bucket);
    const description = BUCKETS[bucket].description;
    await ensureStream(
      jsm,
      { name: `KV_${name}`, num_replicas: replicas },
      (current) => {
        const raised = replicasChange(current, replicas);
        return raised === undefined ? undefined : { num_replicas: raised };
      },
      () => kvm.create(name, { history: 1, description, replicas }),
    );
  }
}

/** Creates the stream if missing (another service may create it meanwhile), else applies `changes`. */
async function ensureStream(
  jsm: JetStreamManager,
  wanted: Pick<StreamConfig, 'name' | 'num_replicas'>,
  changes: (current: StreamConfig) => Partial<StreamUpdateConfig> | undefined,
  create: () => Promise<unknown>,
): Promise<void> {
  let current = await streamInfo(jsm, wanted.name);
  if (!current) {
    try {
      await create();
      return;
    } catch (error) {
      current = await streamInfo(jsm, wanted.name);
      if (!current) throw explain(error, wanted);
    }
  }
  const update = changes(current.config);
  if (!update) return;
  try {
    await jsm.streams.update(wanted.name, update);
  } catch (error) {
    throw explain(error, wanted);
  }
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)
      return undefined;
    throw error;
  }
}

function checkedReplicas(replicas: number): number {
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS)
    throw new Error(`stream replicas must be an integer from 1 to ${MAX_REPLICAS}, not ${replicas}`);
  return replicas;
}

function explain(error: unknown, wanted: Pick<StreamConfig, 'name' | 'num_replicas'>): Error {
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    (wanted.num_replicas ?? 1) > 1
      ? ` (${wanted.num_replicas} replicas, from GANTRY_NATS_REPLICAS: the NATS servers must be a JetStream cluster of at least as many)`
      : '';
  return new Error(`cannot create or update stream ${wanted.name}${hint}: ${message}`, { cause: error });
}

/** Deletes every stream and bucket of a namespace. For tests that created their own. */
export async function destroyTopology(nc: NatsConnection, ns: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const names = [
    ...(Object.keys(STREAMS) as StreamName[]).map((s) => wireStream(ns, s)),
    ...(Object.keys(BUCKETS) as BucketName[]).map((b) => `KV_${wireBucket(ns, b)}`),
  ];
  for (const name of names) {
    try {
      await jsm.streams.delete(name);
    } catch {
      // already gone
    }
  }
}
