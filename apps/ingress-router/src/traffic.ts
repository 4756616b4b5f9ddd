import { MessageBus } from '@gantry/messaging';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';

import { type AppTraffic, trafficReport } from './model/traffic.js';

export const TRAFFIC_OPTIONS = Symbol('TRAFFIC_OPTIONS');

export interface TrafficOptions {
  /** This ingress in its reports (several ingresses report the same apps). */
  ingressId: string;
  /** How often requests per app are reported. */
  intervalMs: number;
}

/** The longest interval the contract takes. */
const MAX_INTERVAL_MS = 3_600_000;

/**
 * What the autoscaler learns of requests: every `intervalMs`, one `ingress.traffic.v1` signal with
 * each app that had requests since the last report or has requests held now — nothing when there
 * is nothing to tell. A request is counted once it is let in (after access control), held or not.
 * Signals may be lost: held requests are reported again at every report while they wait.
 */
@Injectable()
export class TrafficReporter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(TrafficReporter.name);
  /** Requests since the last report, by app id (only ids of routes the ingress knows). */
  private requests = new Map<string, number>();
  private heldNow: () => ReadonlyMap<string, number> = () => new Map();
  private lastReportAt = performance.now();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly bus: MessageBus,
    @Inject(TRAFFIC_OPTIONS) private readonly opts: TrafficOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.lastReportAt = performance.now();
    this.timer = setInterval(() => this.report(), this.opts.intervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One request let in for an app. */
  count(appId: string): void {
    this.requests.set(appId, (this.requests.get(appId) ?? 0) + 1);
  }

  /** Where reports read the requests held now, by app. */
  readHeldFrom(source: () => ReadonlyMap<string, number>): void {
    this.heldNow = source;
  }

  /**
   * Reports at once that an app has requests held, so that it wakes without waiting for the next
   * report: an interval of 0 ms, no requests counted in it (they come with the next report).
   */
  wake(appId: string, held: number): void {
    this.send(0, [{ appId, requests: 0, held }]);
  }

  private report(): void {
    const now = performance.now();
    const intervalMs = Math.min(MAX_INTERVAL_MS, Math.round(now - this.lastReportAt));
    this.lastReportAt = now;
    const requests = this.requests;
    this.requests = new Map();
    for (const apps of trafficReport(requests, this.heldNow())) this.send(intervalMs, apps);
  }

  private send(intervalMs: number, apps: AppTraffic[]): void {
    try {
      this.bus.signal('ingress.traffic.v1', {
        ingressId: this.opts.ingressId,
        at: new Date().toISOString(),
        intervalMs,
        apps,
      });
    } catch (error) {
      // Lost like any signal (NATS closed at shutdown): held requests are reported again next time.
      this.log.warn(`traffic report not sent: ${String((error as Error)?.message ?? error)}`);
    }
  }
}
