import { Counter, Histogram, register } from 'prom-client';

function counter(name: string, help: string, labelNames: string[]): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames });
}
function histogram(name: string, help: string, labelNames: string[]): Histogram {
  return (
    (register.getSingleMetric(name) as Histogram | undefined) ??
    new Histogram({ name, help, labelNames, buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.5, 1, 5] })
  );
}

export const messageMetrics = {
  handled: counter('gantry_messages_handled_total', 'Messages handled, by subject and outcome', [
    'subject',
    'outcome',
  ]),
  duration: histogram('gantry_message_handle_seconds', 'Time to handle a message, by subject and outcome', [
    'subject',
    'outcome',
  ]),
};
