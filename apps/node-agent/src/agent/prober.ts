import { request } from 'node:http';

import { DEFAULT_PROBE_TIMING, type ProbeTiming, ProbeTracker } from '../model/probe-tracker.js';

export interface ProbeTarget {
  address: string;
  port: number;
  path: string;
}

/** Asks whether a replica serves. Never throws: any failure is `false`. */
export interface Prober {
  probe(target: ProbeTarget, timeoutMs: number): Promise<boolean>;
}

/** HTTP GET; a 2xx or 3xx answer within the time limit means ready (redirects are not followed). */
export class HttpProber implements Prober {
  probe(target: ProbeTarget, timeoutMs: number): Promise<boolean> {
    const host =
      target.address === '0.0.0.0' ? '127.0.0.1' : target.address === '::' ? '::1' : target.address;
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        resolve(ok);
        req.destroy();
      };
      const req = request(
        {
          host,
          port: target.port,
          path: target.path,
          method: 'GET',
          agent: false,
          timeout: timeoutMs,
          headers: { 'user-agent': 'gantry-node-agent/probe' },
        },
        (res) => {
          res.resume();
          done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        },
      );
      req.on('timeout', () => done(false));
      req.on('error', () => done(false));
      setTimeout(() => done(false), timeoutMs + 100).unref();
      req.end();
    });
  }
}

/**
 * Probes one container run: every `fastMs` until ready (and while not ready), every `slowMs` while
 * ready, telling `onChange` when readiness changes. Stops for good on `stop()`; a probe in flight
 * then reports nothing.
 */
export class ProbeLoop {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly tracker: ProbeTracker;

  constructor(
    private readonly prober: Prober,
    private readonly target: ProbeTarget,
    private readonly onChange: (ready: boolean) => void,
    private readonly timing: ProbeTiming = DEFAULT_PROBE_TIMING,
  ) {
    this.tracker = new ProbeTracker(timing.failureThreshold);
  }

  start(): this {
    this.schedule(0);
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const ok = await this.prober.probe(this.target, this.timing.timeoutMs).catch(() => false);
    if (this.stopped) return;
    const change = this.tracker.observe(ok);
    if (change) {
      try {
        this.onChange(change === 'ready');
      } catch {
        // the listener's problem
      }
    }
    this.schedule(this.tracker.ready ? this.timing.slowMs : this.timing.fastMs);
  }
}
