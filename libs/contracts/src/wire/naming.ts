import type { BucketName, EventSubject, QuerySubject, SignalSubject, StreamName } from './catalog.js';

/**
 * Wire names are the logical names of catalog.ts under a namespace (default `gantry`).
 * Tests give each run its own namespace so that they can share one NATS server and clean up after.
 */
export const DEFAULT_NAMESPACE = 'gantry';
const NAMESPACE = /^[a-z][a-z0-9_]{0,30}$/;

export function assertNamespace(ns: string): string {
  if (!NAMESPACE.test(ns)) throw new Error(`namespace "${ns}" must match ${NAMESPACE}`);
  return ns;
}

export type AnySubject = EventSubject | SignalSubject | QuerySubject;

export const wireSubject = (ns: string, subject: AnySubject | string): string => `${ns}.${subject}`;
export const wireStream = (ns: string, stream: StreamName): string => `${ns.toUpperCase()}_${stream}`;
export const wireBucket = (ns: string, bucket: BucketName): string => `${ns}-${bucket}`;
/** Durable consumer name of `service` on `subject`: `<service>--<subject with dots as _>`. */
export const durableName = (service: string, subject: EventSubject): string =>
  `${service}--${subject.replaceAll('.', '_')}`;
/** Queue group of a service for signals and queries. */
export const queueGroup = (ns: string, service: string): string => `${ns}.${service}`;
