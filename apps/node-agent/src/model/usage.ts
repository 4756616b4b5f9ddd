import type { NodeUsage, ReplicaUsage } from '@gantry/contracts';

/**
 * One reading of a container's counters, as the engine took it. Docker's one-shot stats carry no
 * previous reading worth using, so the agent keeps its own and takes CPU from the difference.
 */
export interface CounterSample {
  /** When the engine read the counters: ms since the epoch, sub-millisecond digits kept. */
  at: number;
  /** CPU time the container has used since it started, ns (a counter). */
  cpuNs: number;
}

/** The contract's bound on a replica's CPUs. */
const MAX_CPUS = 4096;

/**
 * CPUs used on average between two readings of one container: CPU ns over wall ns. Undefined for a
 * first reading (nothing to compare with), a counter that went back (the container was restarted:
 * its cgroup counts from zero again) and readings not strictly apart in time.
 */
export function cpuCores(prev: CounterSample | undefined, cur: CounterSample): number | undefined {
  if (!prev) return undefined;
  const wallNs = (cur.at - prev.at) * 1e6;
  const cpuNs = cur.cpuNs - prev.cpuNs;
  if (!(wallNs > 0) || !(cpuNs >= 0)) return undefined;
  return Math.min(MAX_CPUS, cpuNs / wallNs);
}

/** A figure from the engine: anything but a finite positive number is 0. */
const finite = (n: number): number =>
  Number.isFinite(n) && n > 0 ? Math.min(n, Number.MAX_SAFE_INTEGER) : 0;

/**
 * Memory in use, bytes, as `docker stats` counts it: the cgroup's usage less its inactive file
 * cache (pages the kernel reclaims first) — `total_inactive_file` on cgroup v1 (the hierarchy's),
 * else `inactive_file` (cgroup v2), the first that is below the usage, as Docker takes them.
 */
export function memoryInUse(
  usage: number,
  counters: { total_inactive_file?: number; inactive_file?: number },
): number {
  const used = finite(usage);
  for (const cache of [counters.total_inactive_file, counters.inactive_file])
    if (cache !== undefined && finite(cache) < used) return Math.round(used - finite(cache));
  return Math.round(used);
}

/**
 * An RFC 3339 time with up to nanosecond digits (Docker's `read`) as ms since the epoch, keeping
 * the digits below the millisecond that `Date.parse` drops. Undefined for Docker's zero time
 * (`0001-01-01T…`, a container that is not running) and anything unparsable.
 */
export function stampMs(iso: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m?.[1] || m[1].startsWith('0001-')) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  return seconds + Number(`0.${m[2] ?? '0'}`) * 1000;
}

/** The most replicas one `node.usage.v1` carries: each is ~200 bytes, and NATS refuses a message over 1 MiB. */
export const USAGE_SIGNAL_MAX_REPLICAS = 2000;

/**
 * The signals of one interval: one with every replica, split past USAGE_SIGNAL_MAX_REPLICAS (a
 * simulated node can run thousands); none without replicas.
 */
export function usageSignals(
  nodeId: string,
  at: string,
  intervalMs: number,
  replicas: ReadonlyArray<ReplicaUsage>,
): NodeUsage[] {
  const out: NodeUsage[] = [];
  const ms = Math.min(3_600_000, Math.max(1, Math.round(intervalMs)));
  for (let i = 0; i < replicas.length; i += USAGE_SIGNAL_MAX_REPLICAS)
    out.push({ nodeId, at, intervalMs: ms, replicas: replicas.slice(i, i + USAGE_SIGNAL_MAX_REPLICAS) });
  return out;
}
