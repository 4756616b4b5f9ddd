import {
  type AutomaticScaling,
  type CustomMetrics,
  type ScalingEntry,
  SELF_PLACEHOLDER,
} from '@gantry/contracts';

import type { Extracted } from './extract.js';
import type { MetricValue } from './hpa.js';
import type { UsageSample } from './usage.js';

/**
 * An app's metric as read this tick: a value to decide on (`describe` says what it is and from what,
 * for the decision's message); nothing yet, which is no problem (replicas just became ready, the first
 * poll has not answered); or a problem, which stops every decision on the metric until it clears.
 */
export type Reading =
  | { kind: 'value'; metric: MetricValue; describe: string }
  | { kind: 'waiting'; why: string }
  | { kind: 'problem'; problem: string };

/** The CPU/RAM target when an app names its resource without one (reference §4.2). */
export const DEFAULT_USAGE_TARGET = 75;

/** A ready replica, with when the autoscaler first saw it ready. */
export interface ReadyReplica {
  replicaId: string;
  nodeId: string;
  readySince: number;
}

/** A number for a message: whole when large, at most 3 decimals otherwise. */
export function fmt(n: number): string {
  if (Math.abs(n) >= 100) return String(Math.round(n));
  return String(Number(n.toFixed(3)));
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export interface ResourceOptions {
  now: number;
  /** How far back samples count. */
  windowMs: number;
  /** How long a replica may be ready without a sample before that is a problem. */
  graceMs: number;
}

/**
 * CPU or RAM as a percent of what one replica is allocated, averaged over the ready replicas that
 * have samples in the window (each replica's samples averaged first). A replica without samples is
 * left out; when none has any, it is a problem once a replica has been ready for the grace period.
 */
export function resourceReading(
  entry: ScalingEntry,
  ready: readonly ReadyReplica[],
  samplesOf: (replicaId: string) => readonly UsageSample[],
  opts: ResourceOptions,
): Reading {
  const a = entry.automatic;
  const resource = a.resourceType;
  if (!resource)
    return { kind: 'problem', problem: 'no metric to scale on: neither a resource type nor a custom metric' };
  const name = resource === 'CPU' ? 'cpu' : 'ram';
  const allocated = resource === 'CPU' ? entry.perReplica.cpu : entry.perReplica.memory;
  if (!(allocated > 0))
    return { kind: 'problem', problem: `the replicas have no ${name} allocation to measure usage against` };
  if (ready.length === 0) return { kind: 'waiting', why: 'no ready replica' };
  const percents: number[] = [];
  let unreported = 0;
  let pastGrace = false;
  for (const r of ready) {
    const samples = samplesOf(r.replicaId);
    if (samples.length === 0) {
      unreported++;
      if (opts.now - r.readySince >= opts.graceMs) pastGrace = true;
      continue;
    }
    const used =
      samples.reduce((sum, s) => sum + (resource === 'CPU' ? s.cpu : s.memory), 0) / samples.length;
    percents.push((used / allocated) * 100);
  }
  const windowS = Math.round(opts.windowMs / 1000);
  if (percents.length === 0) {
    if (!pastGrace) return { kind: 'waiting', why: 'the ready replicas have not reported usage yet' };
    return {
      kind: 'problem',
      problem: `no ${resource === 'CPU' ? 'CPU' : 'memory'} usage reported for any of the ${plural(ready.length, 'ready replica')} over the last ${windowS} s`,
    };
  }
  const target = a.averageUsageTarget ?? DEFAULT_USAGE_TARGET;
  const sum = percents.reduce((x, y) => x + y, 0);
  // Replicas decided but not ready yet will take load: above target they count at 0 %, as the
  // Kubernetes HPA counts unready pods on a scale-up — so a load the replicas on their way will carry
  // does not add more again before they serve (no overshoot while they start).
  const starting = Math.max(0, entry.replicas - ready.length);
  const countStarting = starting > 0 && sum / percents.length > target;
  const average = sum / (percents.length + (countStarting ? starting : 0));
  const without =
    (unreported > 0 ? `, ${unreported} without usage` : '') +
    (countStarting ? `, ${starting} starting counted at 0 %` : '');
  return {
    kind: 'value',
    metric: { kind: 'perReplica', value: average, target },
    describe: `${name} ${Math.round(average)} % of target ${target} % (${percents.length} ready${without}, over ${windowS} s)`,
  };
}

/** Where a custom metric is read: on each ready replica (through its node), or at one URL. */
export type MetricSource =
  | { self: true; port: number; path: string; display: string }
  | { self: false; url: string; display: string }
  | { invalid: string; display: string };

const MAX_SHOWN_URL = 200;

/** A URL as messages show it: no credentials, no query (either may hold a secret), bounded. */
function shownUrl(text: string): string {
  return text.length > MAX_SHOWN_URL ? `${text.slice(0, MAX_SHOWN_URL)}…` : text;
}

/**
 * Reads `apiUrl`: `http://<SELF>[:port]/path` is polled on every ready replica by its node agent
 * (plain HTTP inside the node, so `https://<SELF>` is refused); any other http(s) URL is fetched
 * as it is, once for the whole app.
 */
export function metricSource(apiUrl: string): MetricSource {
  const self = /^http:\/\/<SELF>(?::(\d{1,5}))?(\/[^#]*)?(#.*)?$/i.exec(apiUrl.trim());
  if (self) {
    const port = Number(self[1] ?? 80);
    const path = self[2] ?? '/';
    const display = shownUrl(
      `http://${SELF_PLACEHOLDER}${self[1] ? `:${port}` : ''}${path.split('?')[0] ?? ''}`,
    );
    if (port < 1 || port > 65535) return { invalid: `port ${port} is out of range`, display };
    if (path.length > 4096) return { invalid: 'the path is over 4096 characters', display };
    return { self: true, port, path, display };
  }
  if (apiUrl.includes(SELF_PLACEHOLDER))
    return {
      invalid: `${SELF_PLACEHOLDER} must be the whole host of an http:// URL (http://${SELF_PLACEHOLDER}:port/path)`,
      display: shownUrl(apiUrl.replace(/[?#].*$/s, '')),
    };
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return { invalid: 'not a URL', display: shownUrl(apiUrl.replace(/[?#].*$/s, '')) };
  }
  const display = shownUrl(`${url.protocol}//${url.host}${url.pathname}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { invalid: `only http:// and https:// URLs can be polled, not ${url.protocol}`, display };
  return { self: false, url: url.href, display };
}

/** What one poll got: the number or the error, and when. Key: the replica id, or APP_KEY. */
export interface PollResult {
  at: number;
  result: Extracted;
}

/** The key of the one result of a URL polled for the whole app. */
export const APP_KEY = '';

export interface CustomOptions {
  now: number;
  /** How long a replica may be ready before its failing poll is a problem. */
  graceMs: number;
  /** Results older than this are not used (a poll that never came back). */
  maxAgeMs: number;
}

function aggregate(values: readonly number[], how: CustomMetrics['aggregationType']): number {
  switch (how) {
    case 'AVERAGE':
      return values.reduce((x, y) => x + y, 0) / values.length;
    case 'MIN':
      return Math.min(...values);
    case 'MAX':
      return Math.max(...values);
    case 'SUM':
      return values.reduce((x, y) => x + y, 0);
  }
}

/**
 * A custom metric from its latest polls. On `<SELF>`: each ready replica's value, aggregated —
 * AVERAGE, MIN and MAX give a value per replica, SUM a total; a replica failing past its grace is a
 * problem (its value would be missing from the aggregate), one not polled yet is left out. A plain
 * URL gives a total.
 */
export function customReading(
  a: AutomaticScaling & { customMetrics: CustomMetrics },
  source: MetricSource,
  ready: readonly ReadyReplica[],
  results: ReadonlyMap<string, PollResult>,
  opts: CustomOptions,
): Reading {
  const m = a.customMetrics;
  if ('invalid' in source)
    return { kind: 'problem', problem: `custom metric ${source.display}: ${source.invalid}` };
  const fresh = (key: string): Extracted | undefined => {
    const r = results.get(key);
    return r && opts.now - r.at <= opts.maxAgeMs ? r.result : undefined;
  };
  const target = fmt(m.targetValue);
  // What was read, as the user named it (bounded: a location may be 1 KiB).
  const name = m.valueLocation.length > 100 ? `${m.valueLocation.slice(0, 100)}…` : m.valueLocation;
  if (!source.self) {
    const r = fresh(APP_KEY);
    if (!r) return { kind: 'waiting', why: 'not polled yet' };
    if (!r.ok) return { kind: 'problem', problem: `custom metric ${source.display}: ${r.error}` };
    return {
      kind: 'value',
      metric: { kind: 'total', value: r.value, target: m.targetValue },
      describe: `custom metric ${name} ${fmt(r.value)} at ${source.display} for a target of ${target} per replica`,
    };
  }
  if (ready.length === 0) return { kind: 'waiting', why: 'no ready replica' };
  const values: number[] = [];
  const problems: string[] = [];
  for (const r of [...ready].sort((x, y) => x.replicaId.localeCompare(y.replicaId))) {
    const got = fresh(r.replicaId);
    if (!got) continue;
    if (got.ok) values.push(got.value);
    else if (opts.now - r.readySince >= opts.graceMs)
      problems.push(`custom metric ${source.display} on replica ${r.replicaId}: ${got.error}`);
  }
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${plural(problems.length - 1, 'other replica')})` : '';
    return { kind: 'problem', problem: `${problems[0] ?? ''}${more}` };
  }
  if (values.length === 0) return { kind: 'waiting', why: 'the ready replicas have not answered yet' };
  const value = aggregate(values, m.aggregationType);
  const how = `${m.aggregationType.toLowerCase()} of ${plural(values.length, 'replica')}`;
  return m.aggregationType === 'SUM'
    ? {
        kind: 'value',
        metric: { kind: 'total', value, target: m.targetValue },
        describe: `custom metric ${name} ${fmt(value)} (${how}, ${source.display}) for a target of ${target} per replica`,
      }
    : {
        kind: 'value',
        metric: { kind: 'perReplica', value, target: m.targetValue },
        describe: `custom metric ${name} ${fmt(value)} (${how}, ${source.display}) of target ${target}`,
      };
}
