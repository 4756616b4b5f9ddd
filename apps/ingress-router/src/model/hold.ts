import type { AppState, ErrorBody, RouteEntry } from '@gantry/contracts';

import { serving } from './balancer.js';

/** States in which an app at zero replicas wakes on a request (it is asked to run). */
const WAKING: ReadonlySet<AppState> = new Set<AppState>(['RUNNING', 'SCALING']);

/**
 * Whether a request for `containerPort` of this app waits for a replica instead of being refused:
 * the app may run no replica (`wakeable`), is asked to run, and has no ready replica for that port.
 */
export function waitsForWake(route: RouteEntry, containerPort: number): boolean {
  return route.wakeable === true && WAKING.has(route.state) && !serving(route, containerPort).ok;
}

/** One request waiting for its app to wake. Times are on the caller's monotonic clock (ms). */
export interface HeldEntry<T> {
  readonly appId: string;
  readonly since: number;
  readonly deadline: number;
  readonly item: T;
}

/** How many requests an app may have waiting, and for how long each may wait (ms). */
export interface HoldLimits {
  maxPerApp: number;
  timeoutMs: number;
}

/**
 * Requests waiting for their app to wake, one FIFO queue per app, each bounded. Every entry waits
 * `timeoutMs` at most; since that is the same for all, each queue is also in deadline order, so
 * only heads need looking at to find what expired. Knows no clock: callers pass `now`.
 */
export class HoldQueues<T> {
  private readonly queues = new Map<string, Array<HeldEntry<T>>>();

  constructor(private readonly limits: HoldLimits) {}

  /**
   * Adds a request at the back of its app's queue. `first`: the queue was empty (the app had no
   * request waiting). Undefined when the queue is full.
   */
  add(appId: string, item: T, now: number): { entry: HeldEntry<T>; first: boolean } | undefined {
    const queue = this.queues.get(appId) ?? [];
    if (queue.length >= this.limits.maxPerApp) return undefined;
    const entry: HeldEntry<T> = { appId, since: now, deadline: now + this.limits.timeoutMs, item };
    queue.push(entry);
    this.queues.set(appId, queue);
    return { entry, first: queue.length === 1 };
  }

  /** Takes an entry out wherever it is (its client left); false if it was no longer waiting. */
  remove(entry: HeldEntry<T>): boolean {
    const queue = this.queues.get(entry.appId);
    const i = queue ? queue.indexOf(entry) : -1;
    if (!queue || i < 0) return false;
    queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(entry.appId);
    return true;
  }

  /** Takes out the earliest entry of an app for which `ready` holds (others keep their place). */
  takeFirst(appId: string, ready: (item: T) => boolean): HeldEntry<T> | undefined {
    const queue = this.queues.get(appId);
    const i = queue ? queue.findIndex((e) => ready(e.item)) : -1;
    if (!queue || i < 0) return undefined;
    const [entry] = queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(appId);
    return entry;
  }

  /** Takes out every entry whose deadline is at or before `now`, oldest first within each app. */
  expire(now: number): Array<HeldEntry<T>> {
    const out: Array<HeldEntry<T>> = [];
    for (const [appId, queue] of this.queues) {
      let n = 0;
      while (n < queue.length && (queue[n] as HeldEntry<T>).deadline <= now) n++;
      if (n === 0) continue;
      out.push(...queue.splice(0, n));
      if (queue.length === 0) this.queues.delete(appId);
    }
    return out;
  }

  /** The earliest deadline of any waiting entry; undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const queue of this.queues.values()) {
      const head = queue[0];
      if (head && (next === undefined || head.deadline < next)) next = head.deadline;
    }
    return next;
  }

  /** Requests waiting for one app. */
  held(appId: string): number {
    return this.queues.get(appId)?.length ?? 0;
  }

  /** Requests waiting, by app (apps with none are absent). */
  counts(): Map<string, number> {
    return new Map([...this.queues].map(([appId, queue]) => [appId, queue.length]));
  }

  /** Takes out everything (shutdown), oldest first within each app. */
  drain(): Array<HeldEntry<T>> {
    const out = [...this.queues.values()].flat();
    this.queues.clear();
    return out;
  }
}

/** How long a client refused by the activator is asked to wait before trying again. */
export const HOLD_RETRY_AFTER_SECONDS = 5;

/** An answer of the activator instead of the app's (a 503 with `Retry-After`). */
export interface HoldRefusal {
  status: 503;
  body: ErrorBody;
  headers: Record<string, string>;
}

const refusal = (message: string, cause: string, retryAfterSeconds: number): HoldRefusal => ({
  status: 503,
  body: { error: 'UNAVAILABLE', message, details: { cause } },
  headers: { 'Retry-After': String(retryAfterSeconds) },
});

/** A request that waited the whole hold timeout for its app to wake. */
export const holdTimedOut = (appId: string, timeoutMs: number): HoldRefusal =>
  refusal(
    `app ${appId} is starting from zero replicas and had no ready replica within ${formatMs(timeoutMs)}; try again shortly`,
    'HOLD_TIMEOUT',
    HOLD_RETRY_AFTER_SECONDS,
  );

/** A request beyond the number an app may have waiting. */
export const holdFull = (appId: string, maxPerApp: number): HoldRefusal =>
  refusal(
    `app ${appId} is starting from zero replicas and already has ${maxPerApp} requests waiting; try again shortly`,
    'HOLD_FULL',
    HOLD_RETRY_AFTER_SECONDS,
  );

/** A request still waiting when the ingress stops (another ingress will take it when retried). */
export const holdInterrupted = (appId: string): HoldRefusal =>
  refusal(
    `app ${appId} is starting from zero replicas and this ingress is shutting down; try again`,
    'SHUTDOWN',
    1,
  );

const formatMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
