import type { LivenessProbe } from '@gantry/contracts';

/** What one liveness try got: alive or not, and in words ("connection refused", "answered 500"). */
export interface LivenessOutcome {
  ok: boolean;
  detail: string;
}

/** The container is dead: `failures` tries in a row failed, the last one saying `last`. */
export interface LivenessVerdict {
  failures: number;
  last: string;
}

/**
 * Liveness from the tries made once the startup grace is over: `failureThreshold` failures in a row
 * make the container dead; any success starts the count again (as Kubernetes counts). `observe`
 * returns the verdict once, at the try that reaches the threshold.
 */
export class LivenessTracker {
  private failures = 0;

  constructor(private readonly failureThreshold: number) {}

  observe(outcome: LivenessOutcome): LivenessVerdict | undefined {
    if (outcome.ok) {
      this.failures = 0;
      return undefined;
    }
    this.failures++;
    if (this.failures < this.failureThreshold) return undefined;
    const verdict = { failures: this.failures, last: outcome.detail };
    this.failures = 0;
    return verdict;
  }
}

/**
 * How long from `now` until the first liveness try of a container that started at `startedAt` (ms):
 * the startup grace is what is left of it (a container adopted after an agent restart keeps the
 * grace it had, not a new one).
 */
export function livenessDelayMs(startedAt: number, startupGraceSeconds: number, now: number): number {
  return Math.max(0, startedAt + startupGraceSeconds * 1000 - now);
}

/** How long after a try that took `tookMs` the next one is due: tries start `periodSeconds` apart. */
export function nextTryInMs(periodSeconds: number, tookMs: number): number {
  return Math.max(0, periodSeconds * 1000 - tookMs);
}

/**
 * Why a container is restarted, for its replica's report and the app's events:
 * "liveness probe GET /healthz on :8080 failed 3 times in a row (last: connection refused)".
 */
export function describeLivenessFailure(
  probe: Pick<LivenessProbe, 'path' | 'port'>,
  v: LivenessVerdict,
): string {
  const times = v.failures === 1 ? 'once' : `${v.failures} times in a row`;
  return `liveness probe GET ${probe.path} on :${probe.port} failed ${times} (last: ${v.last.slice(0, 300)})`;
}
