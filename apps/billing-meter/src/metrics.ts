import { Counter, Gauge, register } from 'prom-client';

function counter(name: string, help: string, labelNames: string[] = []): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames });
}
function gauge(name: string, help: string): Gauge {
  return (register.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help });
}

/** The meter's Prometheus metrics (served on /metrics with every other metric of the process). */
export const billingMetrics = {
  statusEvents: counter(
    'gantry_billing_status_events_total',
    'Status events handled by the billing meter, by outcome (stored, duplicate, conflicting, refused)',
    ['outcome'],
  ),
  lateEvents: counter(
    'gantry_billing_late_events_total',
    'Status events stamped before the instant their app was already closed through (recorded periods are not revised)',
  ),
  periodsClosed: counter(
    'gantry_billing_periods_closed_total',
    'Periods recorded in the ledger and published on billing.usage.v1, by currency',
    ['currency'],
  ),
  chargeClosed: counter(
    'gantry_billing_charge_closed_micros_total',
    'Charge of the periods recorded in the ledger (each rounded half up), in micro-units, by currency',
    ['currency'],
  ),
  passes: counter(
    'gantry_billing_ledger_passes_total',
    'Ledger passes, by outcome (closed, waiting, failed)',
    ['outcome'],
  ),
  lag: gauge(
    'gantry_billing_ledger_lag_seconds',
    'How far behind the clock the ledger closed periods in its last pass',
  ),
};
