/** How the agent restarts containers that exit on their own. */
export interface RestartPolicy {
  /** First delay; each further exit in a row doubles it. */
  baseDelayMs: number;
  /** Ceiling of the delay for a replica that has been ready. */
  maxDelayMs: number;
  /** Restarts allowed to a replica that has never been ready; the next exit fails it. */
  maxRestartsBeforeReady: number;
  /** A run at least this long resets the streak of exits (a replica that was ready only). */
  stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRestartsBeforeReady: 3,
  stableAfterMs: 10 * 60_000,
};

export type RestartDecision =
  { action: 'restart'; delayMs: number; streak: number } | { action: 'fail'; streak: number };

/**
 * What to do when a replica's container exits. `streak` counts the exits in a row so far (before
 * this one). Never ready: restart after 1 s, 2 s, 4 s…, and fail once `maxRestartsBeforeReady`
 * restarts did not help. Ready once: always restart, after a delay doubling per exit in a row and
 * capped at `maxDelayMs`; a run of `stableAfterMs` or more starts a new streak.
 */
export function restartDecision(
  policy: RestartPolicy,
  s: { everReady: boolean; streak: number; ranMs: number },
): RestartDecision {
  if (!s.everReady) {
    if (s.streak >= policy.maxRestartsBeforeReady) return { action: 'fail', streak: s.streak };
    return { action: 'restart', delayMs: delay(policy, s.streak), streak: s.streak + 1 };
  }
  const streak = s.ranMs >= policy.stableAfterMs ? 0 : s.streak;
  return { action: 'restart', delayMs: delay(policy, streak), streak: streak + 1 };
}

function delay(policy: RestartPolicy, n: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(n, 30));
}

/** Delay before retrying a transient failure (engine errors), attempt 0, 1, 2… — capped at `maxMs`. */
export const retryDelay = (attempt: number, baseMs = 1000, maxMs = 30_000): number =>
  Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
