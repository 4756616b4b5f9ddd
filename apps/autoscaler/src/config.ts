import { env, loadConfig, platformEnv } from '@gantry/config';
import { z } from 'zod';

/** The service's name: its NATS connections are named after it. */
export const SERVICE = 'autoscaler';

export const AutoscalerConfigSchema = z.object({
  ...platformEnv,
  /** /healthz, /readyz, /metrics. */
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.port(8106),
  /** How often every automatic app is decided on (a wake is decided on the traffic report itself). */
  AUTOSCALER_INTERVAL_MS: env.int(1_000, 50, 60_000),
  /** CPU and RAM are averaged over the samples received within this long. */
  AUTOSCALER_METRIC_WINDOW_MS: env.int(10_000, 1_000, 600_000),
  /** How often custom metrics are polled. */
  AUTOSCALER_METRICS_INTERVAL_MS: env.int(5_000, 100, 600_000),
  /** Longest wait for one custom metric answer (a replica's, through its node, or a URL's). */
  AUTOSCALER_METRICS_TIMEOUT_MS: env.int(3_000, 100, 30_000),
  /**
   * How long a replica may be ready without usage samples or a custom metric answer before that is a
   * problem: its first samples come one node-agent interval after it is ready, and its metric
   * endpoint may start after its readiness probe passes.
   */
  AUTOSCALER_READY_GRACE_MS: env.int(30_000, 0, 600_000),
});
export type AutoscalerConfig = z.infer<typeof AutoscalerConfigSchema>;

export const loadAutoscalerConfig = (): AutoscalerConfig => loadConfig(AutoscalerConfigSchema);
