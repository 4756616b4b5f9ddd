import type { AppState, ScalingEntry } from '@gantry/contracts';

import {
  clamp,
  metricBounds,
  pruneHistory,
  rawRecommendation,
  recommend,
  type Recommendation,
  stabilize,
} from './hpa.js';
import type { Reading, ReadyReplica } from './readings.js';

/**
 * How long a published change may stay out of the `scaling` entry before the autoscaler stops
 * waiting for it and decides (and, if need be, publishes) again.
 */
export const PENDING_TIMEOUT_MS = 60_000;

/** Only apps that run or are changing their replicas are scaled. */
const SCALED_STATES: ReadonlySet<AppState> = new Set<AppState>(['RUNNING', 'SCALING']);

/** What to publish on `app.scale.v1` (without its id and time). */
export interface Publication {
  appId: string;
  desiredVersion: number;
  /** The count in force when it was decided. */
  from: number;
  replicas: number;
  message: string;
  problem?: string;
}

/** Requests an ingress saw for an app since its last report, and those it holds now. */
export interface Traffic {
  requests: number;
  held: number;
}

interface Verdict {
  replicas: number;
  /** The inputs and the reason, without the counts: "cpu 183 % of target 50 % (…)". */
  reason: string;
  /** Why the count is what it is when a window held it back. */
  note?: string;
  problem?: string;
}

interface Published extends Publication {
  /** The entry's count when it was published: the entry has caught up once it differs. */
  entryReplicas: number;
  at: number;
}

const replicasWord = (n: number): string => (n === 1 ? 'replica' : 'replicas');
const requests = (n: number): string => `${n} ${n === 1 ? 'request' : 'requests'}`;

/**
 * One automatic app's scaling, as a pure state machine over explicit times: the `scaling` entry as
 * last seen, when requests last came, the recommendations of the stabilization windows, and what was
 * last published. `tick` decides on the metric; `traffic` wakes an app at 0 at once. Each returns
 * what to publish, or nothing when nothing changed since the last publication.
 */
export class AppScaler {
  private entry: ScalingEntry;
  /** When this scaler first saw the entry at its current count. */
  private countSince: number;
  private readonly readySince = new Map<string, number>();
  private history: Recommendation[] = [];
  private lastRequestAt: number | undefined;
  private lastTraffic: Traffic | undefined;
  private published: Published | undefined;
  private previous: Published | undefined;

  constructor(entry: ScalingEntry, now: number) {
    this.entry = entry;
    this.countSince = now;
    // Taken as the recommendation of the moment: a restarted autoscaler waits out the windows
    // before it moves an app, as one that had watched all along would.
    if (entry.replicas > 0) this.history.push({ at: now, replicas: entry.replicas });
    this.update(entry, now);
  }

  get appId(): string {
    return this.entry.appId;
  }

  get scaling(): ScalingEntry {
    return this.entry;
  }

  update(entry: ScalingEntry, now: number): void {
    if (entry.replicas !== this.entry.replicas) this.countSince = now;
    this.entry = entry;
    const ready = new Set(entry.ready.map((r) => r.replicaId));
    for (const id of this.readySince.keys()) if (!ready.has(id)) this.readySince.delete(id);
    for (const id of ready) if (!this.readySince.has(id)) this.readySince.set(id, now);
  }

  /** The ready replicas, with when each was first seen ready. */
  ready(): ReadyReplica[] {
    return this.entry.ready.map((r) => ({ ...r, readySince: this.readySince.get(r.replicaId) ?? 0 }));
  }

  /**
   * The count in force: a change published and not yet in the entry (for at most
   * PENDING_TIMEOUT_MS, and while the app's desired version is the one it was decided for), or the
   * entry's.
   */
  current(now: number): { count: number; pending: boolean } {
    const p = this.published;
    const pending =
      p !== undefined &&
      p.replicas !== p.entryReplicas &&
      this.entry.replicas === p.entryReplicas &&
      this.entry.desiredVersion === p.desiredVersion &&
      now - p.at < PENDING_TIMEOUT_MS;
    return pending ? { count: p.replicas, pending } : { count: this.entry.replicas, pending };
  }

  /** Requests seen for the app; an app at 0 with any wakes now, not at the next tick. */
  traffic(t: Traffic, reading: Reading, now: number): Publication | undefined {
    if (t.requests === 0 && t.held === 0) return undefined;
    this.lastRequestAt = now;
    this.lastTraffic = t;
    if (!SCALED_STATES.has(this.entry.state) || this.current(now).count !== 0) return undefined;
    return this.emit(this.wake(t, reading), 0, now);
  }

  /** One decision on the metric as read now. */
  tick(reading: Reading, now: number): Publication | undefined {
    const a = this.entry.automatic;
    const upMs = a.scaleUpStabilizationWindowSeconds * 1000;
    const downMs = a.scaleDownStabilizationWindowSeconds * 1000;
    this.history = pruneHistory(this.history, now, Math.max(upMs, downMs));
    if (!SCALED_STATES.has(this.entry.state)) return undefined;
    const { count: current, pending } = this.current(now);
    if (current === 0) return this.emit(this.atZero(reading), 0, now);
    // The entry has not caught up with the last change yet: the metric still shows the old count.
    if (pending) return undefined;
    if (reading.kind === 'problem')
      return this.emit({ replicas: current, reason: '', problem: reading.problem }, current, now);
    // Nothing to decide on yet; never a reason to scale, down or to zero.
    if (reading.kind === 'waiting') return undefined;
    const bounds = metricBounds(a);
    const recommended = recommend(current, reading.metric, bounds);
    const s = stabilize(this.history, now, current, recommended, upMs, downMs);
    // A run of equal recommendations is kept as its latest: what the windows see of it is the same,
    // and the history stays as long as the number of changes in the longest window.
    const last = this.history.at(-1);
    if (last?.replicas === recommended) last.at = now;
    else this.history.push({ at: now, replicas: recommended });
    const idle = this.idle(reading, now);
    if (idle) return this.emit(idle, current, now);
    const note =
      s.heldBy === 'up'
        ? `the lowest recommendation of the ${a.scaleUpStabilizationWindowSeconds} s scale-up window`
        : s.heldBy === 'down'
          ? `the highest recommendation of the ${a.scaleDownStabilizationWindowSeconds} s scale-down window`
          : undefined;
    return this.emit(
      { replicas: clamp(s.replicas, bounds), reason: reading.describe, ...(note ? { note } : {}) },
      current,
      now,
    );
  }

  /** A publication could not be sent: forget it, so that the next tick sends it again. */
  failed(p: Publication): void {
    if (this.published === p) this.published = this.previous;
  }

  /** At 0 replicas: wake on a request or a metric total that asks for replicas; else stay. */
  private atZero(reading: Reading): Verdict | undefined {
    const p = this.published;
    const zeroSince = p && p.replicas === 0 && this.entry.replicas !== 0 ? p.at : this.countSince;
    if (this.lastTraffic && this.lastRequestAt !== undefined && this.lastRequestAt > zeroSince)
      return this.wake(this.lastTraffic, reading);
    if (reading.kind === 'problem') return { replicas: 0, reason: '', problem: reading.problem };
    if (reading.kind === 'value' && reading.metric.kind === 'total') {
      const wanted = rawRecommendation(0, reading.metric);
      if (wanted > 0)
        return { replicas: clamp(wanted, metricBounds(this.entry.automatic)), reason: reading.describe };
    }
    return undefined;
  }

  /** Requests at 0 replicas: 1 replica at once, more if a metric total asks for more. */
  private wake(t: Traffic, reading: Reading): Verdict {
    const bounds = metricBounds(this.entry.automatic);
    const byMetric =
      reading.kind === 'value' && reading.metric.kind === 'total' ? rawRecommendation(0, reading.metric) : 0;
    const reason =
      t.held > 0 ? `${requests(t.held)} held at 0 replicas` : `${requests(t.requests)} at 0 replicas`;
    if (byMetric > 1 && reading.kind === 'value')
      return { replicas: clamp(byMetric, bounds), reason, note: reading.describe };
    return { replicas: clamp(1, bounds), reason };
  }

  /**
   * With `replicasMin: 0`, no request for the scale-down window plus the cooldown (counted from the
   * later of the last request, when this count was first seen, and the entry's `replicasSince`) is
   * 0 replicas — unless a metric total says work is waiting.
   */
  private idle(reading: Reading & { kind: 'value' }, now: number): Verdict | undefined {
    const a = this.entry.automatic;
    if (a.replicasMin !== 0) return undefined;
    if (reading.metric.kind === 'total' && rawRecommendation(0, reading.metric) > 0) return undefined;
    const replicasSince = Date.parse(this.entry.replicasSince);
    const since = Math.max(
      this.lastRequestAt ?? Number.NEGATIVE_INFINITY,
      this.countSince,
      Number.isFinite(replicasSince) ? replicasSince : Number.NEGATIVE_INFINITY,
    );
    const down = a.scaleDownStabilizationWindowSeconds;
    const cooldown = a.cooldownPeriodSeconds ?? 0;
    if (now - since < (down + cooldown) * 1000) return undefined;
    return {
      replicas: 0,
      reason: `idle for ${Math.round((now - since) / 1000)} s (scale-down window ${down} s + cooldown ${cooldown} s)`,
    };
  }

  /**
   * The publication a verdict makes, if it says something new: a different count, or a problem that
   * appeared, changed or cleared. The same decision is not sent again while the entry catches up
   * (nor after, unless the entry moved elsewhere or PENDING_TIMEOUT_MS passed without it).
   */
  private emit(v: Verdict | undefined, current: number, now: number): Publication | undefined {
    if (!v) return undefined;
    const problem = v.problem?.slice(0, 2048);
    const last = this.published;
    const e = this.entry;
    const repeat =
      last !== undefined &&
      last.desiredVersion === e.desiredVersion &&
      last.replicas === v.replicas &&
      last.problem === problem &&
      e.replicas === last.entryReplicas &&
      now - last.at < PENDING_TIMEOUT_MS;
    if (repeat) return undefined;
    const changes = v.replicas !== current;
    if (!changes && last?.problem === problem) return undefined;
    let message: string;
    if (problem !== undefined) message = `${problem}: holding ${current} ${replicasWord(current)}`;
    else if (changes)
      message = `${v.reason}: ${current} → ${v.replicas} ${replicasWord(v.replicas)}${v.note ? ` (${v.note})` : ''}`;
    else message = `${v.reason}: ${current} ${replicasWord(current)}, the metric is readable again`;
    const p: Published = {
      appId: e.appId,
      desiredVersion: e.desiredVersion,
      from: current,
      replicas: v.replicas,
      message: message.slice(0, 2048),
      ...(problem !== undefined ? { problem } : {}),
      entryReplicas: e.replicas,
      at: now,
    };
    this.previous = last;
    this.published = p;
    return p;
  }
}
