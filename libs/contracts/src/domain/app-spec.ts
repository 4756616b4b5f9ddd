import { z } from 'zod';

import { APP_STATES } from './app-state.js';
import { INFO_CODES } from './info-codes.js';

/** A TCP port an app may listen on. */
export const PortSchema = z.int().min(1).max(65535);

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const EnvVarSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(256)
    .regex(ENV_NAME, 'must start with a letter or _ and hold only letters, digits, _ . -'),
  value: z.string().max(32_768),
});
export type EnvVar = z.infer<typeof EnvVarSchema>;

/** Label keys and values: Kubernetes-like, so selectors stay unambiguous. */
export const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9_./-]{0,61}[A-Za-z0-9])?$/;
export const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;
export const LabelsSchema = z.record(
  z
    .string()
    .regex(LABEL_KEY, 'label keys are 1-63 letters, digits, _ . / -, starting and ending alphanumeric'),
  z
    .string()
    .regex(LABEL_VALUE, 'label values are up to 63 letters, digits, _ . -, starting and ending alphanumeric'),
);
/** Labels with this prefix belong to the platform (it sets `gantry/id`); users cannot set them. */
export const RESERVED_LABEL_PREFIX = 'gantry/';

/**
 * A liveness probe with every default applied: GET `path` on `port` every `periodSeconds`, each try
 * given `timeoutSeconds`; an answer 200-399 means alive (as Kubernetes), and `failureThreshold`
 * failures in a row restart the container.
 */
export const LivenessProbeSchema = z.strictObject({
  path: z.string().startsWith('/').max(2048),
  port: PortSchema,
  periodSeconds: z.int().min(1).max(300),
  failureThreshold: z.int().min(1).max(30),
  timeoutSeconds: z.int().min(1).max(60),
});
export type LivenessProbe = z.infer<typeof LivenessProbeSchema>;

/** An app's probes: readiness (`path` on `port`) gates traffic; `liveness`, when set, restarts. */
export const ProbeSchema = z.strictObject({
  path: z.string().startsWith('/').max(2048),
  port: PortSchema,
  /**
   * Seconds after each start of a container during which liveness failures do not count (readiness
   * is probed from the start all the same). Absent (specs from before it existed) means 0.
   */
  startupGraceSeconds: z.int().min(0).max(3600).optional(),
  /** Absent: no liveness probe (a replica is restarted only when it exits). */
  liveness: LivenessProbeSchema.optional(),
});
export type Probe = z.infer<typeof ProbeSchema>;

export const DeploymentStrategySchema = z.strictObject({
  maxSurge: z.string(),
  maxUnavailable: z.string(),
  progressDeadlineSeconds: z.int().min(1).max(86_400),
  /**
   * A rolling update whose new replicas fail returns to the previous runtime spec by itself (the
   * api-gateway does it on `APP_ROLLOUT_FAILED`). Absent (specs from before it existed) means false.
   */
  autoRollback: z.boolean().optional(),
});

/** Where a custom metric's value is read from (reference §4.5, KEDA's metrics-api scaler). */
export const METRIC_FORMATS = ['JSON', 'XML', 'YAML', 'PROMETHEUS'] as const;
export const METRIC_AGGREGATIONS = ['AVERAGE', 'MIN', 'MAX', 'SUM'] as const;
export const SCALING_RESOURCES = ['CPU', 'RAM'] as const;

/** The placeholder of a custom metric URL that stands for each ready replica of the app. */
export const SELF_PLACEHOLDER = '<SELF>';

export const CustomMetricsSchema = z.strictObject({
  /** `http(s)://…`; with `<SELF>` as host, polled on every ready replica (through its node). */
  apiUrl: z.string().max(2048),
  format: z.enum(METRIC_FORMATS),
  /** JSON: a GJSON-like dotted path; YAML/XML: a dotted path; PROMETHEUS: a series (`name{label="v"}`). */
  valueLocation: z.string().min(1).max(1024),
  targetValue: z.number().positive(),
  aggregationType: z.enum(METRIC_AGGREGATIONS),
});
export type CustomMetrics = z.infer<typeof CustomMetricsSchema>;

/** Automatic scaling with every default applied (reference §2.2 `AutomaticScaling`, §4). */
export const AutomaticScalingSchema = z.strictObject({
  replicasMin: z.int().min(0).max(10),
  replicasMax: z.int().min(1).max(10),
  /** Absent when `customMetrics` drives the app. */
  resourceType: z.enum(SCALING_RESOURCES).optional(),
  /** Percent of the per-replica allocation, averaged over ready replicas; with `resourceType`. */
  averageUsageTarget: z.int().min(1).max(100).optional(),
  scaleUpStabilizationWindowSeconds: z.int().min(0).max(3600),
  scaleDownStabilizationWindowSeconds: z.int().min(0).max(3600),
  /** Only with `replicasMin: 0`: idle time beyond the scale-down window before 1 → 0. */
  cooldownPeriodSeconds: z.int().min(0).max(86_400).optional(),
  customMetrics: CustomMetricsSchema.optional(),
});
export type AutomaticScaling = z.infer<typeof AutomaticScalingSchema>;

export const ScalingStrategySchema = z.union([
  z.strictObject({ fixed: z.strictObject({ replicas: z.int().min(0).max(10) }) }),
  z.strictObject({ automatic: AutomaticScalingSchema }),
]);
export type ScalingStrategy = z.infer<typeof ScalingStrategySchema>;

/** The automatic scaling of a strategy, if it is one. */
export const automaticOf = (s: ScalingStrategy): AutomaticScaling | undefined =>
  'automatic' in s ? s.automatic : undefined;

/**
 * The replica count a strategy asks for: the fixed count, or the autoscaler's latest decision
 * (`target`) kept within the bounds — `max(1, replicasMin)` before any decision.
 */
export function replicasWanted(s: ScalingStrategy, target?: number): number {
  if ('fixed' in s) return s.fixed.replicas;
  const { replicasMin: min, replicasMax: max } = s.automatic;
  return Math.min(max, Math.max(min, target ?? Math.max(1, min)));
}

/** The most replicas a strategy may run at once: what quotas count. */
export const replicasAtMost = (s: ScalingStrategy): number =>
  'fixed' in s ? s.fixed.replicas : s.automatic.replicasMax;

/** Resources of one replica, resolved from the flavor catalog (reference §2.3 `spec.resources`). */
export const ResolvedResourcesSchema = z.strictObject({
  flavor: z.string(),
  type: z.enum(['cpu', 'gpu']),
  /** CPUs or GPUs per replica: what the price and the quota count. */
  units: z.int().min(1),
  cpu: z.number().positive(),
  gpu: z.int().min(0),
  memory: z.int().min(0),
  ephemeralStorage: z.int().min(0),
  publicNetwork: z.int().min(0),
  privateNetwork: z.int().min(0),
  gpuBrand: z.string().optional(),
  gpuModel: z.string().optional(),
  gpuMemory: z.int().min(0).optional(),
});
export type ResolvedResources = z.infer<typeof ResolvedResourcesSchema>;

/** An app's spec with every default applied: what the scheduler and the agents act on. */
export const AppSpecSchema = z.strictObject({
  name: z.string(),
  image: z.string(),
  command: z.array(z.string()).optional(),
  envVars: z.array(EnvVarSchema),
  labels: z.record(z.string(), z.string()),
  resources: ResolvedResourcesSchema,
  scalingStrategy: ScalingStrategySchema,
  defaultHttpPort: PortSchema,
  grpcPort: PortSchema.optional(),
  probe: ProbeSchema,
  unsecureHttp: z.boolean(),
  deploymentStrategy: DeploymentStrategySchema,
});
export type AppSpec = z.infer<typeof AppSpecSchema>;

/** The price of one unit of a flavor. Money is integer micro-units of the currency. */
export const RateSchema = z.strictObject({
  flavor: z.string(),
  unitPriceMicros: z.int().min(0),
  currency: z.string().length(3),
});
export type Rate = z.infer<typeof RateSchema>;

export const AppStateSchema = z.enum(APP_STATES);
export const InfoSchema = z.strictObject({ code: z.enum(INFO_CODES), message: z.string() });
export type Info = z.infer<typeof InfoSchema>;
export const HistoryEntrySchema = z.strictObject({ state: AppStateSchema, date: z.iso.datetime() });
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;
