export interface ProbeTiming {
  /** Interval while not ready (before the first success, and after losing readiness). */
  fastMs: number;
  /** Interval while ready. */
  slowMs: number;
  /** One probe's time limit. */
  timeoutMs: number;
  /** Failures in a row that take a ready replica out. */
  failureThreshold: number;
}

export const DEFAULT_PROBE_TIMING: ProbeTiming = {
  fastMs: 300,
  slowMs: 2000,
  timeoutMs: 1000,
  failureThreshold: 3,
};

/**
 * Readiness from probe outcomes: the first success makes a container ready; once ready, only
 * `failureThreshold` failures in a row make it not ready; one success makes it ready again.
 * `observe` returns the change, if any.
 */
export class ProbeTracker {
  private isReady = false;
  private failures = 0;

  constructor(private readonly failureThreshold: number) {}

  get ready(): boolean {
    return this.isReady;
  }

  observe(ok: boolean): 'ready' | 'not-ready' | undefined {
    if (ok) {
      this.failures = 0;
      if (this.isReady) return undefined;
      this.isReady = true;
      return 'ready';
    }
    if (!this.isReady) return undefined;
    this.failures++;
    if (this.failures < this.failureThreshold) return undefined;
    this.isReady = false;
    this.failures = 0;
    return 'not-ready';
  }
}
