import {
  type AppSpec,
  AppSpecSchema,
  type CreateAppInput,
  type FieldError,
  type Flavor,
  type LivenessProbe,
  parseLabelSelector,
  type Probe,
  type Rate,
  type ResolvedResources,
} from '@gantry/contracts';
import { GantryError, validationFailed } from '@gantry/errors';

/** Defaults of an app spec (reference §2.2). */
export const SPEC_DEFAULTS = {
  defaultHttpPort: 8080,
  probePath: '/',
  startupGraceSeconds: 0,
  /** A liveness probe's, when it has one (Kubernetes' own, but a 2 s timeout). */
  liveness: { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
  unsecureHttp: false,
  replicas: 1,
  maxSurge: '25%',
  maxUnavailable: '25%',
  progressDeadlineSeconds: 600,
  autoRollback: false,
} as const;

/** The platform label every app carries: its id. */
export const ID_LABEL = 'gantry/id';

export interface ResolveContext {
  appId: string;
  /** The flavor catalog. */
  flavors: readonly Flavor[];
  /** Called only when the input has no name. */
  generateName: () => string;
  /**
   * The label selector of the token creating the app, if it has one: the app gets that label so that
   * it stays within the token's reach (reference §5.3).
   */
  tokenSelector?: string | null;
}

export interface ResolvedApp {
  spec: AppSpec;
  rate: Rate;
  flavor: Flavor;
}

/**
 * Turns a validated create request into the full spec the scheduler acts on: every default applied,
 * resources resolved from the flavor × units, the platform label set. Pure. Throws a 400 naming the
 * field for what only the catalog can judge (unknown flavor, CPU units on a GPU flavor, more units
 * than the flavor allows) and a 403 for a label a scoped token cannot grant.
 */
export function resolveAppSpec(input: CreateAppInput, ctx: ResolveContext): ResolvedApp {
  const { flavor, units } = resolveFlavor(input.resources ?? {}, ctx.flavors);
  const defaultHttpPort = input.defaultHttpPort ?? SPEC_DEFAULTS.defaultHttpPort;
  if (input.grpcPort !== undefined && input.grpcPort === defaultHttpPort)
    throw fail('grpcPort', `must differ from defaultHttpPort (${defaultHttpPort})`);
  const spec: AppSpec = {
    name: input.name ?? ctx.generateName(),
    image: input.image,
    ...(input.command ? { command: input.command } : {}),
    envVars: input.envVars ?? [],
    labels: { ...scopedLabels(input.labels ?? {}, ctx.tokenSelector), [ID_LABEL]: ctx.appId },
    resources: resolveResources(flavor, units),
    scalingStrategy: input.scalingStrategy?.automatic
      ? { automatic: input.scalingStrategy.automatic }
      : { fixed: { replicas: input.scalingStrategy?.fixed?.replicas ?? SPEC_DEFAULTS.replicas } },
    defaultHttpPort,
    ...(input.grpcPort !== undefined ? { grpcPort: input.grpcPort } : {}),
    probe: resolveProbe(input.probe, defaultHttpPort),
    unsecureHttp: input.unsecureHttp ?? SPEC_DEFAULTS.unsecureHttp,
    deploymentStrategy: {
      maxSurge: input.deploymentStrategy?.maxSurge ?? SPEC_DEFAULTS.maxSurge,
      maxUnavailable: input.deploymentStrategy?.maxUnavailable ?? SPEC_DEFAULTS.maxUnavailable,
      progressDeadlineSeconds:
        input.deploymentStrategy?.progressDeadlineSeconds ?? SPEC_DEFAULTS.progressDeadlineSeconds,
      autoRollback: input.deploymentStrategy?.autoRollback ?? SPEC_DEFAULTS.autoRollback,
    },
  };
  return {
    spec: AppSpecSchema.parse(spec),
    rate: rateOf(flavor),
    flavor,
  };
}

/** The probes of a create request with every default applied (liveness only when asked for). */
export function resolveProbe(input: CreateAppInput['probe'], defaultHttpPort: number): Probe {
  const path = input?.path ?? SPEC_DEFAULTS.probePath;
  const port = input?.port ?? defaultHttpPort;
  return {
    path,
    port,
    startupGraceSeconds: input?.startupGraceSeconds ?? SPEC_DEFAULTS.startupGraceSeconds,
    ...(input?.liveness ? { liveness: resolveLiveness(input.liveness, { path, port }) } : {}),
  };
}

/**
 * A liveness probe of a request over `base` (the liveness probe it replaces, or defaults on the
 * readiness probe's path and port): what the request gives wins, field by field.
 */
export function resolveLiveness(
  input: NonNullable<NonNullable<CreateAppInput['probe']>['liveness']>,
  base: Pick<LivenessProbe, 'path' | 'port'> & Partial<LivenessProbe>,
): LivenessProbe {
  const d = SPEC_DEFAULTS.liveness;
  return {
    path: input.path ?? base.path,
    port: input.port ?? base.port,
    periodSeconds: input.periodSeconds ?? base.periodSeconds ?? d.periodSeconds,
    failureThreshold: input.failureThreshold ?? base.failureThreshold ?? d.failureThreshold,
    timeoutSeconds: input.timeoutSeconds ?? base.timeoutSeconds ?? d.timeoutSeconds,
  };
}

/** The price an app on `flavor` is billed at: the catalog's, as it is now. */
export function rateOf(flavor: Flavor): Rate {
  return {
    flavor: flavor.id,
    unitPriceMicros: flavor.price.unitPriceMicros,
    currency: flavor.price.currency,
  };
}

/** The default flavor of a type: the one flagged default, else the first by id. */
export function defaultFlavor(flavors: readonly Flavor[], type: 'cpu' | 'gpu'): Flavor | undefined {
  const ofType = flavors.filter((f) => f.type === type).sort((a, b) => a.id.localeCompare(b.id));
  return ofType.find((f) => f.default) ?? ofType[0];
}

/**
 * Which flavor and how many units per replica: `gpu: n` or `cpu: n` (of the named flavor, else the
 * type's default), a flavor alone (1 unit), or nothing (1 unit of the default CPU flavor).
 */
export function resolveFlavor(
  r: NonNullable<CreateAppInput['resources']>,
  flavors: readonly Flavor[],
): { flavor: Flavor; units: number } {
  let named: Flavor | undefined;
  if (r.flavor !== undefined) {
    named = flavors.find((f) => f.id === r.flavor);
    if (!named)
      throw fail(
        'resources.flavor',
        `unknown flavor "${r.flavor}"; available: ${flavors.map((f) => f.id).join(', ')}`,
      );
  }
  const type = r.gpu !== undefined ? 'gpu' : r.cpu !== undefined ? 'cpu' : (named?.type ?? 'cpu');
  const field = `resources.${type}`;
  const units = (type === 'gpu' ? r.gpu : r.cpu) ?? 1;
  if (named && named.type !== type) {
    const other = named.type === 'gpu' ? 'gpu' : 'cpu';
    throw fail(
      field,
      `flavor ${named.id} is a ${named.type.toUpperCase()} flavor: set resources.${other} instead, or pick a ${type.toUpperCase()} flavor`,
    );
  }
  const flavor = named ?? defaultFlavor(flavors, type);
  if (!flavor) throw fail(field, `no ${type.toUpperCase()} flavor is available`);
  if (units > flavor.max)
    throw fail(
      field,
      `at most ${flavor.max} ${type.toUpperCase()}s per replica with flavor ${flavor.id} (asked for ${units})`,
    );
  return { flavor, units };
}

/** What one replica gets: the flavor's per-unit resources × units. */
export function resolveResources(flavor: Flavor, units: number): ResolvedResources {
  const per = flavor.resourcesPerUnit;
  const gpu = flavor.gpuInformation;
  return {
    flavor: flavor.id,
    type: flavor.type,
    units,
    cpu: per.cpu * units,
    gpu: flavor.type === 'gpu' ? units : 0,
    memory: per.memory * units,
    ephemeralStorage: per.ephemeralStorage * units,
    publicNetwork: per.publicNetwork * units,
    privateNetwork: per.privateNetwork * units,
    ...(gpu && flavor.type === 'gpu'
      ? { gpuBrand: gpu.gpuBrand, gpuModel: gpu.gpuModel, gpuMemory: gpu.gpuMemory * units }
      : {}),
  };
}

/** The user's labels plus the creating token's selector label, which the app must carry. */
function scopedLabels(
  labels: Record<string, string>,
  selector: string | null | undefined,
): Record<string, string> {
  if (!selector) return labels;
  const parsed = parseLabelSelector(selector);
  if (!parsed) throw new GantryError('FORBIDDEN', 'this token has an unusable label selector');
  if (parsed.key === ID_LABEL)
    throw new GantryError('FORBIDDEN', `a token scoped to one app (${selector}) cannot create apps`);
  const own = labels[parsed.key];
  if (own !== undefined && own !== parsed.value)
    throw fail(
      `labels.${parsed.key}`,
      `a token scoped to ${selector} can only create apps labelled ${selector}`,
    );
  return { ...labels, [parsed.key]: parsed.value };
}

function fail(field: string, message: string): GantryError {
  const problems: FieldError[] = [{ field, message }];
  return validationFailed(problems);
}
