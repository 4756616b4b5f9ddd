import type { AutomaticScaling, CreateAppInput, CustomMetrics } from '@gantry/contracts';

import { ArgumentError, pairsToRecord } from './args.js';

/** Choices of the `--auto-*` flags (checked here so that a typo is a usage error). */
export const RESOURCE_TYPES = ['CPU', 'RAM'] as const satisfies ReadonlyArray<
  NonNullable<AutomaticScaling['resourceType']>
>;
export const METRIC_FORMATS = ['JSON', 'YAML', 'XML', 'PROMETHEUS'] as const satisfies ReadonlyArray<
  CustomMetrics['format']
>;
export const METRIC_AGGREGATIONS = ['AVERAGE', 'MIN', 'MAX', 'SUM'] as const satisfies ReadonlyArray<
  CustomMetrics['aggregationType']
>;

/** The scaling flags of `gantry app run` and `gantry app scale` (reference §3.1 names). */
export interface ScalingOptions {
  replicas?: number;
  autoMinReplicas?: number;
  autoMaxReplicas?: number;
  autoResourceType?: (typeof RESOURCE_TYPES)[number];
  autoResourceUsageThreshold?: number;
  autoScaleUpStabilizationWindowSeconds?: number;
  autoScaleDownStabilizationWindowSeconds?: number;
  autoCooldownPeriodSeconds?: number;
  autoCustomApiUrl?: string;
  autoCustomMetricFormat?: (typeof METRIC_FORMATS)[number];
  autoCustomValueLocation?: string;
  autoCustomTargetValue?: number;
  autoCustomMetricAggregationType?: (typeof METRIC_AGGREGATIONS)[number];
}

/**
 * `automatic` as the CLI sends it: only what the user gave. The API applies the defaults (CPU at
 * 75 %, windows of 0 s up and 300 s down, JSON, AVERAGE…) and checks the ranges.
 */
export type AutomaticScalingBody = Pick<AutomaticScaling, 'replicasMin' | 'replicasMax'> &
  Partial<
    Pick<
      AutomaticScaling,
      | 'resourceType'
      | 'averageUsageTarget'
      | 'scaleUpStabilizationWindowSeconds'
      | 'scaleDownStabilizationWindowSeconds'
      | 'cooldownPeriodSeconds'
    >
  > & {
    customMetrics?: Pick<CustomMetrics, 'apiUrl' | 'valueLocation' | 'targetValue'> &
      Partial<Pick<CustomMetrics, 'format' | 'aggregationType'>>;
  };

/** The body of `PUT /v1/app/{id}/scalingstrategy`, and `scalingStrategy` of `POST /v1/app`. */
export type ScalingStrategyBody = { fixed: { replicas: number } } | { automatic: AutomaticScalingBody };

/** The body of `POST /v1/app` as the CLI sends it. */
export type CreateAppBody = Omit<CreateAppInput, 'scalingStrategy'> & {
  scalingStrategy?: ScalingStrategyBody;
};

/** The options of `gantry app run` (reference §3.1 flag names). */
export interface AppRunOptions extends ScalingOptions {
  name?: string;
  cpu?: number;
  gpu?: number;
  flavor?: string;
  env?: Array<[string, string]>;
  label?: Array<[string, string]>;
  defaultHttpPort?: number;
  grpcPort?: number;
  unsecureHttp?: boolean;
  probePath?: string;
  probePort?: number;
}

/**
 * The body of `POST /v1/app` for `gantry app run IMAGE [options] [-- command...]`. Only what the
 * user gave is sent: the API applies its defaults (port 8080, the default flavor, 1 replica…).
 * Throws ArgumentError for combinations the API would refuse anyway (`--cpu` with `--gpu`).
 */
export function buildCreateAppBody(
  image: string,
  opts: AppRunOptions,
  command: readonly string[] = [],
): CreateAppBody {
  if (opts.cpu !== undefined && opts.gpu !== undefined)
    throw new ArgumentError('--cpu and --gpu cannot be used together: an app runs on CPUs or on GPUs');
  const body: CreateAppBody = { image };
  if (opts.name !== undefined) body.name = opts.name;
  if (command.length > 0) body.command = [...command];
  if (opts.env?.length) {
    const env = pairsToRecord(opts.env);
    body.envVars = Object.entries(env).map(([name, value]) => ({ name, value }));
  }
  if (opts.label?.length) body.labels = pairsToRecord(opts.label);
  if (opts.flavor !== undefined || opts.cpu !== undefined || opts.gpu !== undefined)
    body.resources = {
      ...(opts.flavor !== undefined ? { flavor: opts.flavor } : {}),
      ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
      ...(opts.gpu !== undefined ? { gpu: opts.gpu } : {}),
    };
  const scaling = scalingStrategyOf(opts);
  if (scaling) body.scalingStrategy = scaling;
  if (opts.defaultHttpPort !== undefined) body.defaultHttpPort = opts.defaultHttpPort;
  if (opts.grpcPort !== undefined) body.grpcPort = opts.grpcPort;
  if (opts.probePath !== undefined || opts.probePort !== undefined)
    body.probe = {
      ...(opts.probePath !== undefined ? { path: opts.probePath } : {}),
      ...(opts.probePort !== undefined ? { port: opts.probePort } : {}),
    };
  if (opts.unsecureHttp) body.unsecureHttp = true;
  return body;
}

/**
 * The body of `PUT /v1/app/{id}/scalingstrategy` for `gantry app scale ID --replicas N` or
 * `… --auto-min-replicas N --auto-max-replicas M […]`.
 */
export function buildScalingBody(opts: ScalingOptions): ScalingStrategyBody {
  const body = scalingStrategyOf(opts);
  if (!body)
    throw new ArgumentError(
      'give --replicas N (fixed scaling) or --auto-min-replicas N --auto-max-replicas M (automatic scaling)',
    );
  return body;
}

const CUSTOM_KEYS = [
  'autoCustomApiUrl',
  'autoCustomMetricFormat',
  'autoCustomValueLocation',
  'autoCustomTargetValue',
  'autoCustomMetricAggregationType',
] as const satisfies ReadonlyArray<keyof ScalingOptions>;
const AUTO_KEYS = [
  'autoMinReplicas',
  'autoMaxReplicas',
  'autoResourceType',
  'autoResourceUsageThreshold',
  'autoScaleUpStabilizationWindowSeconds',
  'autoScaleDownStabilizationWindowSeconds',
  'autoCooldownPeriodSeconds',
  ...CUSTOM_KEYS,
] as const satisfies ReadonlyArray<keyof ScalingOptions>;
const CUSTOM_REQUIRED = [
  ['autoCustomApiUrl', '--auto-custom-api-url'],
  ['autoCustomValueLocation', '--auto-custom-value-location'],
  ['autoCustomTargetValue', '--auto-custom-target-value'],
] as const;

/**
 * The strategy the flags ask for, or undefined when none is given (the API keeps or defaults it).
 * Throws ArgumentError for flags that cannot go together or that are incomplete; the values'
 * ranges (replicas 0-10, min ≤ max…) are the API's to check, and its 400 names the field.
 */
function scalingStrategyOf(opts: ScalingOptions): ScalingStrategyBody | undefined {
  const auto = AUTO_KEYS.some((k) => opts[k] !== undefined);
  if (opts.replicas !== undefined && auto)
    throw new ArgumentError(
      '--replicas and --auto-* cannot be used together: an app has a fixed number of replicas or scales automatically',
    );
  if (opts.replicas !== undefined) return { fixed: { replicas: opts.replicas } };
  if (!auto) return undefined;
  if (opts.autoMinReplicas === undefined || opts.autoMaxReplicas === undefined)
    throw new ArgumentError(
      'automatic scaling needs both --auto-min-replicas and --auto-max-replicas, e.g. --auto-min-replicas 1 --auto-max-replicas 4',
    );
  const custom = CUSTOM_KEYS.some((k) => opts[k] !== undefined);
  if (custom && (opts.autoResourceType !== undefined || opts.autoResourceUsageThreshold !== undefined))
    throw new ArgumentError(
      '--auto-resource-type and --auto-resource-usage-threshold cannot be used with --auto-custom-*: an app scales on one metric',
    );
  const automatic: AutomaticScalingBody = {
    replicasMin: opts.autoMinReplicas,
    replicasMax: opts.autoMaxReplicas,
    ...defined('resourceType', opts.autoResourceType),
    ...defined('averageUsageTarget', opts.autoResourceUsageThreshold),
    ...defined('scaleUpStabilizationWindowSeconds', opts.autoScaleUpStabilizationWindowSeconds),
    ...defined('scaleDownStabilizationWindowSeconds', opts.autoScaleDownStabilizationWindowSeconds),
    ...defined('cooldownPeriodSeconds', opts.autoCooldownPeriodSeconds),
  };
  if (custom) {
    const { autoCustomApiUrl: apiUrl, autoCustomValueLocation: at, autoCustomTargetValue: target } = opts;
    if (apiUrl === undefined || at === undefined || target === undefined) {
      const missing = CUSTOM_REQUIRED.filter(([k]) => opts[k] === undefined).map(([, flag]) => flag);
      throw new ArgumentError(
        `a custom metric needs --auto-custom-api-url, --auto-custom-value-location and --auto-custom-target-value (missing: ${missing.join(', ')})`,
      );
    }
    automatic.customMetrics = {
      apiUrl,
      valueLocation: at,
      targetValue: target,
      ...defined('format', opts.autoCustomMetricFormat),
      ...defined('aggregationType', opts.autoCustomMetricAggregationType),
    };
  }
  return { automatic };
}

/** `{key: value}` when the value is given, else nothing (so that absent flags are not sent). */
function defined<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
