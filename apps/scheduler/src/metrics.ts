import { Histogram, register } from 'prom-client';

function histogram(name: string, help: string, buckets: number[]): Histogram {
  return (register.getSingleMetric(name) as Histogram | undefined) ?? new Histogram({ name, help, buckets });
}

/** Fine buckets where the placement targets are (p99 under 50 ms). */
const LATENCY_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10,
];

export const schedulerMetrics = {
  /**
   * From an app's desired state being stored in JetStream to the commit of the pass that decided on
   * it (placed its replicas, or recorded what blocks them): what kube-scheduler calls e2e scheduling
   * latency.
   */
  decision: histogram(
    'gantry_scheduler_decision_seconds',
    'From a desired state stored in JetStream to the committed scheduling decision on it',
    LATENCY_BUCKETS,
  ),
  /** One reconcile pass: its operations applied, its apps reconciled, the whole committed. */
  pass: histogram('gantry_scheduler_pass_seconds', 'Duration of one reconcile pass', LATENCY_BUCKETS),
  /** Apps reconciled per pass. */
  passApps: histogram(
    'gantry_scheduler_pass_apps',
    'Apps reconciled in one pass',
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
  ),
};
