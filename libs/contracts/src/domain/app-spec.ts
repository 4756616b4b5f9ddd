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

export const ProbeSchema = z.strictObject({
  path: z.string().startsWith('/').max(2048),
  port: PortSchema,
});

export const DeploymentStrategySchema = z.strictObject({
  maxSurge: z.string(),
  maxUnavailable: z.string(),
  progressDeadlineSeconds: z.int().min(1).max(86_400),
});

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
  scalingStrategy: z.strictObject({ fixed: z.strictObject({ replicas: z.int().min(0).max(10) }) }),
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
