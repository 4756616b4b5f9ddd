import { request } from 'node:http';

import { DEFAULT_PROBE_TIMING, type ProbeTiming, ProbeTracker } from '../model/probe-tracker.js';

export interface ProbeTarget {
  address: string;
  port: number;
  path: string;
}

/** What one probe got: ready or not, and in words ("connection refused", "answered 404"). */
export interface ProbeOutcome {
  ok: boolean;
  detail: string;
}

/** Asks whether a replica serves. Never throws: any failure is a not-ok outcome saying what happened. */
export interface Prober {
  probe(target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome>;
}

/** Node's socket error codes in the words a user reads. */
const ERROR_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
};

/** HTTP GET; a 2xx or 3xx answer within the time limit means ready (redirects are not followed). */
export class HttpProber implements Prober {
  probe(target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
    const host =
      target.address === '0.0.0.0' ? '127.0.0.1' : target.address === '::' ? '::1' : target.address;
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean, detail: string): void => {
        if (settled) return;
        settled = true;
        resolve({ ok, detail });
        req.destroy();
      };
      const timedOut = () => done(false, `no answer within ${timeoutMs} ms`);
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
          const status = res.statusCode ?? 0;
          done(status >= 200 && status < 400, `answered ${status}`);
        },
      );
      req.on('timeout', timedOut);
      req.on('error', (error: NodeJS.ErrnoException) =>
        done(false, ERROR_WORDS[error.code ?? ''] ?? error.code ?? error.message),
      );
      setTimeout(timedOut, timeoutMs + 100).unref();
      req.end();
    });
  }
}

/** Where a replica that never became ready stands: tries, for how long, and what the last one got. */
export interface ProbeProgress {
  tries: number;
  sinceMs: number;
  detail: string;
}

/** How often a replica that is not ready yet says again what its probe gets (when it gets the same). */
export const PROGRESS_EVERY_MS = 15_000;

/**
 * Probes one container run: every `fastMs` until ready (and while not ready), every `slowMs` while
 * ready, telling `onChange` when readiness changes. Until the first success, `onProgress` hears what
 * the probe gets: at the first failure, whenever what it gets changes, and every PROGRESS_EVERY_MS.
 * Stops for good on `stop()`; a probe in flight then reports nothing.
 */
export class ProbeLoop {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly tracker: ProbeTracker;
  private readonly startedAt = Date.now();
  private tries = 0;
  private everReady = false;
  private said: { detail: string; at: number } | undefined;

  constructor(
    private readonly prober: Prober,
    private readonly target: ProbeTarget,
    private readonly onChange: (ready: boolean) => void,
    private readonly timing: ProbeTiming = DEFAULT_PROBE_TIMING,
    private readonly onProgress: (progress: ProbeProgress) => void = () => undefined,
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
    const outcome = await this.prober
      .probe(this.target, this.timing.timeoutMs)
      .catch((error: unknown) => ({ ok: false, detail: (error as Error).message }));
    if (this.stopped) return;
    this.tries++;
    if (outcome.ok) this.everReady = true;
    else if (!this.everReady) this.progress(outcome.detail);
    const change = this.tracker.observe(outcome.ok);
    if (change) {
      try {
        this.onChange(change === 'ready');
      } catch {
        // the listener's problem
      }
    }
    this.schedule(this.tracker.ready ? this.timing.slowMs : this.timing.fastMs);
  }

  private progress(detail: string): void {
    const now = Date.now();
    if (this.said?.detail === detail && now - this.said.at < PROGRESS_EVERY_MS) return;
    this.said = { detail, at: now };
    try {
      this.onProgress({ tries: this.tries, sinceMs: now - this.startedAt, detail });
    } catch {
      // the listener's problem
    }
  }
}
