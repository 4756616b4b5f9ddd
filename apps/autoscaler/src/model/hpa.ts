import type { AutomaticScaling } from '@gantry/contracts';

/** Kubernetes' HPA tolerance: a usage within 10 % of its target changes nothing (no flapping). */
export const TOLERANCE = 0.1;

/** Floating-point slack, so that 3 × (4/3) is 4 replicas and not 5, and 55/50 is within 10 % of 1. */
const EPSILON = 1e-9;

/**
 * A metric read for an app, as the HPA algorithm takes it:
 * - `perReplica`: a value each replica has (CPU %, RAM %, a custom metric's average/min/max), to keep
 *   at `target` per replica: `desired = ceil(current × value / target)`;
 * - `total`: a value for the whole app (a custom metric's sum, or one URL for the app), of which each
 *   replica should take `target`: `desired = ceil(value / target)`.
 */
export interface MetricValue {
  kind: 'perReplica' | 'total';
  value: number;
  target: number;
}

/** The replica counts a metric may ask for: never below 1 (only idleness scales to zero). */
export interface Bounds {
  min: number;
  max: number;
}

export const metricBounds = (a: AutomaticScaling): Bounds => ({
  min: Math.min(a.replicasMax, Math.max(1, a.replicasMin)),
  max: a.replicasMax,
});

export const clamp = (n: number, b: Bounds): number => Math.min(b.max, Math.max(b.min, n));

/**
 * What the metric asks for, before any window and any bound: the HPA's `ceil(current × ratio)`, or
 * the current count when the ratio is within the tolerance. At 0 replicas only a total can ask for
 * anything (nothing runs to measure per replica); it may ask for 0.
 */
export function rawRecommendation(current: number, m: MetricValue): number {
  if (m.kind === 'total') {
    if (current > 0 && Math.abs(m.value / (m.target * current) - 1) <= TOLERANCE + EPSILON) return current;
    return Math.max(0, Math.ceil(m.value / m.target - EPSILON));
  }
  if (current === 0) return 0;
  const ratio = m.value / m.target;
  if (Math.abs(ratio - 1) <= TOLERANCE + EPSILON) return current;
  return Math.max(0, Math.ceil(current * ratio - EPSILON));
}

/** The metric's recommendation within the bounds. */
export const recommend = (current: number, m: MetricValue, b: Bounds): number =>
  clamp(rawRecommendation(current, m), b);

/** One tick's recommendation, kept for the stabilization windows. */
export interface Recommendation {
  at: number;
  replicas: number;
}

export interface Stabilized {
  replicas: number;
  /** Set when a window kept the count from following the recommendation all the way. */
  heldBy?: 'up' | 'down';
}

/**
 * Kubernetes' HPA stabilization: up to the lowest recommendation of the last `upWindowMs`, down to
 * the highest of the last `downWindowMs` (each including `recommended`, this tick's), never past
 * `recommended`. A rise must hold for the whole up window and a fall for the whole down window, so
 * the count changes direction at most once per window.
 */
export function stabilize(
  history: readonly Recommendation[],
  now: number,
  current: number,
  recommended: number,
  upWindowMs: number,
  downWindowMs: number,
): Stabilized {
  let up = recommended;
  let down = recommended;
  for (const r of history) {
    if (r.at > now - upWindowMs) up = Math.min(up, r.replicas);
    if (r.at > now - downWindowMs) down = Math.max(down, r.replicas);
  }
  if (current < up) return { replicas: up, ...(up < recommended ? { heldBy: 'up' as const } : {}) };
  if (current > down) return { replicas: down, ...(down > recommended ? { heldBy: 'down' as const } : {}) };
  if (recommended > current) return { replicas: current, heldBy: 'up' };
  if (recommended < current) return { replicas: current, heldBy: 'down' };
  return { replicas: current };
}

/** The history without what no window can still see. */
export const pruneHistory = (history: Recommendation[], now: number, keepMs: number): Recommendation[] =>
  history.filter((r) => r.at > now - keepMs);
