import type { RouteEntry } from '@gantry/contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';

import { ingressMetrics } from './metrics.js';
import {
  type HeldEntry,
  holdFull,
  holdInterrupted,
  HoldQueues,
  type HoldRefusal,
  holdTimedOut,
  waitsForWake,
} from './model/hold.js';
import { RouteTable } from './route-table.js';
import { TrafficReporter } from './traffic.js';

export const ACTIVATOR_OPTIONS = Symbol('ACTIVATOR_OPTIONS');

export interface ActivatorOptions {
  /** Longest a request waits for its app to wake (ms); then 503 with `Retry-After`. */
  holdTimeoutMs: number;
  /** Most requests waiting per app; beyond, 503 at once. */
  maxPerApp: number;
}

/**
 * A request (an upgrade, an HTTP/2 call) held by the activator, as the ingress server hands it over.
 * Exactly one of `release` and `refuse` is called, unless the client leaves first.
 */
export interface Waiting {
  /**
   * The wait is over (the app has a ready replica, or its route changed so that holding makes no
   * sense any more): route the request again. `sent` is to be called once it is on its way to a
   * replica or answered — the next request of the app goes only then, so that a replica gets them
   * in arrival order.
   */
  release(sent: () => void): void;
  /** Answer this instead (timed out, too many waiting, shutting down). */
  refuse(reply: HoldRefusal): void;
  /** Calls `listener` when the client goes away. */
  onClose(listener: () => void): void;
}

interface Item {
  containerPort: number;
  waiting: Waiting;
}

type Outcome = 'released' | 'timeout' | 'left' | 'shutdown';

/**
 * How long the next held request of an app waits for the one before it to reach a replica: past
 * that, it goes anyway (a replica slow to accept connections must not hold the queue up).
 */
const RELEASE_STEP_MS = 250;

/**
 * The activator: requests for an app scaled to zero (`wakeable`, asked to run, no ready replica) are
 * held instead of refused, and the autoscaler is told at once (a traffic report with the held
 * count) so that the app wakes. When the route table gets a ready replica for them, they are routed
 * again one after the other in arrival order; requests arriving meanwhile queue behind them. A
 * request waits `holdTimeoutMs` at most; a client that leaves is forgotten; at most `maxPerApp` wait
 * per app. Bodies stay unread while held: the client is held back by TCP (or HTTP/2) flow control.
 */
@Injectable()
export class Activator {
  private readonly log = new Logger(Activator.name);
  private readonly queues: HoldQueues<Item>;
  /** Apps whose released requests are being sent on one by one. */
  private readonly releasing = new Set<string>();
  private timer?: NodeJS.Timeout;
  private timerAt?: number;
  private closed = false;

  constructor(
    private readonly table: RouteTable,
    private readonly traffic: TrafficReporter,
    @Inject(ACTIVATOR_OPTIONS) private readonly opts: ActivatorOptions,
  ) {
    this.queues = new HoldQueues({ maxPerApp: opts.maxPerApp, timeoutMs: opts.holdTimeoutMs });
    table.onRouteChanged((appId) => this.releaseNext(appId));
    traffic.readHeldFrom(() => this.queues.counts());
  }

  /**
   * Whether a request (already let in by access control) must wait: its app is at zero and may
   * wake, or earlier requests of the app still wait (they go first).
   */
  mustHold(route: RouteEntry, containerPort: number): boolean {
    if (this.closed || route.wakeable !== true) return false;
    return this.queues.held(route.appId) > 0 || waitsForWake(route, containerPort);
  }

  /** Holds a request for which `mustHold` said so. */
  hold(route: RouteEntry, containerPort: number, waiting: Waiting): void {
    const appId = route.appId;
    const added = this.queues.add(appId, { containerPort, waiting }, now());
    if (!added) {
      ingressMetrics.holdOverflows.inc({ app: appId });
      waiting.refuse(holdFull(appId, this.opts.maxPerApp));
      return;
    }
    const { entry, first } = added;
    waiting.onClose(() => {
      if (!this.queues.remove(entry)) return;
      this.ended(entry, 'left');
      this.counted(appId);
      this.arm();
    });
    this.counted(appId);
    this.arm();
    if (first) this.traffic.wake(appId, 1);
    // Queued behind others while the app serves already: the release under way takes it, or this does.
    this.releaseNext(appId);
  }

  /** Refuses every held request (the ingress is stopping: they would not be served). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const entry of this.queues.drain()) {
      this.ended(entry, 'shutdown');
      this.counted(entry.appId);
      entry.item.waiting.refuse(holdInterrupted(entry.appId));
    }
  }

  /**
   * Sends on the earliest held request of an app that need not wait any more — its app has a
   * ready replica for its port, or no longer may wake (stopped, deleted: it then gets the answer
   * any request gets) — and the next once that one is on its way.
   */
  private releaseNext(appId: string): void {
    if (this.closed || this.releasing.has(appId)) return;
    const route = this.table.route(appId);
    const entry = this.queues.takeFirst(appId, (item) => !route || !waitsForWake(route, item.containerPort));
    if (!entry) return;
    this.releasing.add(appId);
    this.ended(entry, 'released');
    this.counted(appId);
    this.arm();
    let done = false;
    const next = (): void => {
      if (done) return;
      done = true;
      clearTimeout(step);
      // From the event loop: a request sent on synchronously must not deepen the stack per request.
      setImmediate(() => {
        this.releasing.delete(appId);
        this.releaseNext(appId);
      });
    };
    const step = setTimeout(next, RELEASE_STEP_MS);
    step.unref();
    try {
      entry.item.waiting.release(next);
    } catch (error) {
      this.log.error(`releasing a request held for ${appId} failed: ${String(error)}`);
      next();
    }
  }

  /** Keeps one timer, at the earliest deadline of any held request. */
  private arm(): void {
    const at = this.queues.nextDeadline();
    if (at === this.timerAt && (at === undefined || this.timer)) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(at - now())));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    for (const entry of this.queues.expire(now())) {
      ingressMetrics.holdTimeouts.inc({ app: entry.appId });
      this.ended(entry, 'timeout');
      this.counted(entry.appId);
      entry.item.waiting.refuse(holdTimedOut(entry.appId, this.opts.holdTimeoutMs));
    }
    this.arm();
  }

  private ended(entry: HeldEntry<Item>, outcome: Outcome): void {
    ingressMetrics.holdSeconds.observe({ app: entry.appId, outcome }, (now() - entry.since) / 1000);
  }

  /** Updates the held gauge of an app (absent at zero: apps come and go). */
  private counted(appId: string): void {
    const held = this.queues.held(appId);
    if (held > 0) ingressMetrics.held.set({ app: appId }, held);
    else ingressMetrics.held.remove({ app: appId });
  }
}

const now = (): number => performance.now();
