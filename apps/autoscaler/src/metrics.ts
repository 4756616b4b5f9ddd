import { Counter, Gauge, register } from 'prom-client';

function counter(name: string, help: string, labelNames: string[] = []): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames });
}
function gauge(name: string, help: string): Gauge {
  return (register.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help });
}

/** The autoscaler's Prometheus metrics (served on its HTTP port's /metrics). */
export const autoscalerMetrics = {
  decisions: counter(
    'gantry_autoscaler_decisions_total',
    'Decisions published on app.scale.v1, by direction (up, down, or hold: a metric problem appearing or clearing)',
    ['direction'],
  ),
  metricErrors: counter(
    'gantry_autoscaler_metric_errors_total',
    'Metrics that could not be read, by source (cpu, ram, custom): each problem published once',
    ['source'],
  ),
  polls: counter(
    'gantry_autoscaler_metric_polls_total',
    'Custom metric answers (one per replica, or one per URL), by outcome (ok, error)',
    ['outcome'],
  ),
  publishFailures: counter(
    'gantry_autoscaler_publish_failures_total',
    'Decisions that could not be published (sent again at the next tick)',
  ),
  apps: gauge('gantry_autoscaler_apps', 'Automatic apps the autoscaler follows (entries of KV scaling)'),
  invalidEntries: counter(
    'gantry_autoscaler_invalid_kv_entries_total',
    'KV scaling values that failed validation and were ignored',
  ),
};
