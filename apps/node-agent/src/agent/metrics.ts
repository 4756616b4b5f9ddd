import { Counter, Gauge, Histogram, register } from 'prom-client';

function counter(name: string, help: string, labelNames: string[]): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames });
}
function gauge(name: string, help: string, labelNames: string[]): Gauge {
  return (register.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, labelNames });
}
function histogram(name: string, help: string, labelNames: string[], buckets: number[]): Histogram {
  return (
    (register.getSingleMetric(name) as Histogram | undefined) ??
    new Histogram({ name, help, labelNames, buckets })
  );
}

/** The agent's Prometheus metrics (process-wide; labelled by node so that several agents can share a process). */
export const agentMetrics = {
  replicas: gauge('gantry_node_agent_replicas', 'Replicas on the node, by phase', ['node', 'phase']),
  restarts: counter('gantry_node_agent_container_restarts_total', 'Containers restarted after exiting', [
    'node',
  ]),
  pulls: counter('gantry_node_agent_image_pulls_total', 'Image pulls, by result', ['node', 'result']),
  pullSeconds: histogram(
    'gantry_node_agent_image_pull_seconds',
    'Time to pull an image',
    ['node'],
    [1, 5, 15, 60, 180, 600],
  ),
  reports: counter('gantry_node_agent_reports_total', 'Replica reports published, by phase', [
    'node',
    'phase',
  ]),
  logLines: counter('gantry_node_agent_log_lines_total', 'Container log lines shipped', ['node']),
  logBatches: counter('gantry_node_agent_log_batches_total', 'Log batches published', ['node']),
  passes: histogram(
    'gantry_node_agent_converge_seconds',
    'Time to plan one convergence pass',
    ['node'],
    [0.005, 0.02, 0.1, 0.5, 2],
  ),
  errors: counter('gantry_node_agent_errors_total', 'Failed actions and engine calls, by what failed', [
    'node',
    'what',
  ]),
};
