import {
  type BucketName,
  BUCKETS,
  type StreamName,
  STREAMS,
  wireBucket,
  wireStream,
  wireSubject,
} from '@gantry/contracts';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';

const DUPLICATE_WINDOW_SECONDS = 120;

/**
 * Creates (or updates to the catalog's definition) every stream and KV bucket of the namespace.
 * Idempotent and safe to run from every service at once.
 */
export async function ensureTopology(nc: NatsConnection, ns: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of Object.keys(STREAMS) as StreamName[]) {
    const def = STREAMS[name];
    const config = {
      name: wireStream(ns, name),
      subjects: def.subjects.map((s) => wireSubject(ns, s)),
      description: def.description,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(def.maxAgeSeconds * 1000),
      duplicate_window: nanos(DUPLICATE_WINDOW_SECONDS * 1000),
    };
    try {
      await jsm.streams.add(config);
    } catch {
      await jsm.streams.update(config.name, config);
    }
  }
  const kvm = new Kvm(nc);
  for (const bucket of Object.keys(BUCKETS) as BucketName[]) {
    await kvm.create(wireBucket(ns, bucket), { history: 1, description: BUCKETS[bucket].description });
  }
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
