import { Counter, Gauge, Histogram, register } from 'prom-client';

function counter(name: string, help: string, labelNames: string[] = []): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames });
}
function gauge(name: string, help: string, labelNames: string[] = []): Gauge {
  return (register.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, labelNames });
}
function histogram(
  name: string,
  help: string,
  labelNames: string[],
  buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
): Histogram {
  return (
    (register.getSingleMetric(name) as Histogram | undefined) ??
    new Histogram({ name, help, labelNames, buckets })
  );
}

/**
 * The ingress's Prometheus metrics (served on the admin port's /metrics). The `app` label is a known
 * app id, or `-` for requests that named no existing app, so hostile Host headers add no series.
 */
export const ingressMetrics = {
  requests: counter(
    'gantry_ingress_requests_total',
    'Requests through the ingress, by app and status class (1xx for WebSocket upgrades, aborted when the client left first)',
    ['app', 'status_class'],
  ),
  upstreamSeconds: histogram(
    'gantry_ingress_upstream_seconds',
    'Time from dialling a replica to its response headers, by app',
    ['app'],
  ),
  upstreamErrors: counter(
    'gantry_ingress_upstream_errors_total',
    'Failed attempts to reach a replica, by app and error code (retried or not)',
    ['app', 'code'],
  ),
  ejections: counter(
    'gantry_ingress_ejections_total',
    'Replicas ejected after failing several attempts in a row (passive health), by app',
    ['app'],
  ),
  held: gauge(
    'gantry_ingress_held_requests',
    'Requests held while their app wakes from zero replicas, by app (absent: none)',
    ['app'],
  ),
  holdSeconds: histogram(
    'gantry_ingress_hold_seconds',
    'How long requests were held for their app to wake, by app and outcome (released, timeout, left, shutdown)',
    ['app', 'outcome'],
    [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 240],
  ),
  holdTimeouts: counter(
    'gantry_ingress_hold_timeouts_total',
    'Held requests answered 503 because their app had no ready replica within the hold timeout, by app',
    ['app'],
  ),
  holdOverflows: counter(
    'gantry_ingress_hold_overflows_total',
    'Requests answered 503 at once because their app already had the most requests held, by app',
    ['app'],
  ),
  routes: gauge('gantry_ingress_routes', 'Apps in the route table'),
  tokens: gauge('gantry_ingress_tokens', 'Tokens known to the ingress'),
  invalidEntries: counter(
    'gantry_ingress_invalid_kv_entries_total',
    'KV values that failed validation and were ignored, by bucket',
    ['bucket'],
  ),
};

/** `2xx`, `4xx`…, from a status code. */
export const statusClass = (status: number): string => `${Math.floor(status / 100)}xx`;
