import {
  type AppSpec,
  AppSpecSchema,
  type AppState,
  type Flavor,
  parseLabelSelector,
  type Probe,
  type Rate,
  RESERVED_LABEL_PREFIX,
  type ScalingStrategy,
  type SetImageInput,
  type SetLabelInput,
  type SetScalingStrategyInput,
  type UpdateAppInput,
} from '@gantry/contracts';
import { conflict, GantryError, validationFailed } from '@gantry/errors';

import { describeScaling } from './events.js';
import type { Lifecycle } from './lifecycle.js';
import { describeRuntimeChanges, sameValue } from './runtime.js';
import { rateOf, resolveFlavor, resolveLiveness, resolveResources } from './spec-resolver.js';

/** A change a user asks for on an existing app's spec (each has its own endpoint). */
export type SpecChange =
  | { kind: 'label'; input: SetLabelInput }
  | { kind: 'scaling'; input: SetScalingStrategyInput }
  | { kind: 'update'; input: UpdateAppInput }
  | { kind: 'image'; input: SetImageInput };

export interface ChangeContext {
  /** The label selector of the calling token (null for admins and unscoped tokens). */
  tokenSelector: string | null;
  /** The flavor catalog: needed by an update that sets `resources`. */
  flavors?: readonly Flavor[];
}

/**
 * The spec after a change, and what changed in words (empty: the change changes nothing); the new
 * rate when the change moved the app to other resources.
 */
export interface ChangeResult {
  spec: AppSpec;
  changes: string[];
  rate?: Rate;
}

/** Labels an app may carry besides the platform's. */
export const MAX_USER_LABELS = 64;

/** What of an app decides whether its spec may change. */
export interface ChangeableView {
  id: string;
  state: AppState;
  lifecycle: Lifecycle;
}

/**
 * Refuses (409 CONFLICT naming the state) a change to an app on its way out (being deleted), and a
 * change other than labels to a FAILED or ERROR app: such an app can only be deleted, so a new
 * replica count, image or port would never apply. A STOPPED app takes changes for its next start.
 */
export function assertChangeable(app: ChangeableView, change: SpecChange['kind'] | 'rollback'): void {
  if (app.lifecycle === 'DELETED' || app.state === 'DELETING' || app.state === 'DELETED')
    throw conflict(`cannot change app ${app.id}: it is being deleted`, { state: app.state });
  if (change !== 'label' && (app.state === 'FAILED' || app.state === 'ERROR'))
    throw conflict(
      `cannot change app ${app.id}: it is ${app.state}, and a ${app.state} app can only be deleted (then created again)`,
      { state: app.state },
    );
}

/**
 * Applies a validated change to a spec. Pure. Throws a 400 naming the field for what only the current
 * spec can judge (a gRPC port equal to the HTTP port, a 65th label, a rolling update that moves
 * nothing) and a 403 when a label-scoped token would change the label that keeps the app in its reach.
 */
export function applyChange(spec: AppSpec, change: SpecChange, ctx: ChangeContext): ChangeResult {
  switch (change.kind) {
    case 'label':
      return applyLabel(spec, change.input, ctx);
    case 'scaling':
      return applyScaling(spec, change.input);
    case 'update':
      return applyUpdate(spec, change.input, ctx);
    case 'image':
      return applyImage(spec, change.input);
  }
}

function applyLabel(spec: AppSpec, input: SetLabelInput, ctx: ChangeContext): ChangeResult {
  const key = input.name;
  if (key.startsWith(RESERVED_LABEL_PREFIX))
    throw fail('name', `"${key}" is reserved: the ${RESERVED_LABEL_PREFIX} prefix belongs to the platform`);
  const value = input.value ?? undefined;
  const before = Object.prototype.hasOwnProperty.call(spec.labels, key) ? spec.labels[key] : undefined;
  if (before === value) return { spec, changes: [] };
  const scope = ctx.tokenSelector ? parseLabelSelector(ctx.tokenSelector) : undefined;
  if (scope?.key === key)
    throw new GantryError(
      'FORBIDDEN',
      `a token scoped to ${ctx.tokenSelector} cannot ${value === undefined ? 'remove' : 'change'} label ${key}: the app would leave its reach`,
    );
  const labels = { ...spec.labels };
  if (value === undefined) {
    delete labels[key];
    return { spec: checked({ ...spec, labels }), changes: [`label ${key} removed (was ${show(before)})`] };
  }
  const userLabels = Object.keys(spec.labels).filter((k) => !k.startsWith(RESERVED_LABEL_PREFIX));
  if (before === undefined && userLabels.length >= MAX_USER_LABELS)
    throw fail('name', `the app already has ${MAX_USER_LABELS} labels: remove one first`);
  labels[key] = value;
  return {
    spec: checked({ ...spec, labels }),
    changes: [
      before === undefined
        ? `label ${key} set to ${show(value)}`
        : `label ${key} changed from ${show(before)} to ${show(value)}`,
    ],
  };
}

/**
 * A new scaling strategy. Switching between fixed and automatic changes no replica's runtime spec:
 * the replicas that serve keep serving, and only the count moves.
 */
function applyScaling(spec: AppSpec, input: SetScalingStrategyInput): ChangeResult {
  const after: ScalingStrategy = input.automatic
    ? { automatic: input.automatic }
    : { fixed: { replicas: input.fixed?.replicas ?? 1 } };
  const before = spec.scalingStrategy;
  if (JSON.stringify(before) === JSON.stringify(after)) return { spec, changes: [] };
  const change =
    'fixed' in before && 'fixed' in after
      ? `replicas ${before.fixed.replicas} → ${after.fixed.replicas}`
      : `scaling ${describeScaling(before)} → ${describeScaling(after)}`;
  return { spec: checked({ ...spec, scalingStrategy: after }), changes: [change] };
}

/**
 * An update of the runtime settings (environment, command, resources, ports, probe; a RUNNING app
 * rolls its replicas for them) and of the rolling-update parameters. `resources` is resolved through
 * the catalog as on create; events name environment variables, never their values.
 */
function applyUpdate(spec: AppSpec, input: UpdateAppInput, ctx: ChangeContext): ChangeResult {
  const defaultHttpPort = input.defaultHttpPort ?? spec.defaultHttpPort;
  const probe = mergeProbe(spec, input.probe, defaultHttpPort);
  const grpcPort = input.grpcPort === null ? undefined : (input.grpcPort ?? spec.grpcPort);
  if (grpcPort !== undefined && grpcPort === defaultHttpPort)
    throw fail(
      input.grpcPort === undefined ? 'defaultHttpPort' : 'grpcPort',
      input.grpcPort === undefined
        ? `must differ from the app's grpcPort (${grpcPort})`
        : `must differ from defaultHttpPort (${defaultHttpPort})`,
    );
  const deploymentStrategy = { ...spec.deploymentStrategy, ...input.deploymentStrategy };
  if (isZero(deploymentStrategy.maxSurge) && isZero(deploymentStrategy.maxUnavailable))
    throw fail(
      'deploymentStrategy',
      `maxSurge and maxUnavailable cannot both be 0 (they would be ${deploymentStrategy.maxSurge} and ${deploymentStrategy.maxUnavailable})`,
    );
  const moved = input.resources !== undefined ? resolveUpdatedResources(input.resources, ctx) : undefined;
  const command = input.command === null ? undefined : (input.command ?? spec.command);
  const rest: AppSpec = { ...spec };
  delete rest.grpcPort;
  delete rest.command;
  const next: AppSpec = {
    ...rest,
    ...(command ? { command } : {}),
    envVars: input.envVars ?? spec.envVars,
    resources: moved?.resources ?? spec.resources,
    defaultHttpPort,
    ...(grpcPort !== undefined ? { grpcPort } : {}),
    probe,
    deploymentStrategy,
  };
  const changes = describeRuntimeChanges(spec, next);
  for (const k of ['maxSurge', 'maxUnavailable', 'progressDeadlineSeconds'] as const)
    if (next.deploymentStrategy[k] !== spec.deploymentStrategy[k])
      changes.push(`deploymentStrategy.${k} ${spec.deploymentStrategy[k]} → ${next.deploymentStrategy[k]}`);
  const autoBefore = spec.deploymentStrategy.autoRollback ?? false;
  const autoAfter = next.deploymentStrategy.autoRollback ?? false;
  if (autoBefore !== autoAfter) changes.push(`deploymentStrategy.autoRollback ${autoBefore} → ${autoAfter}`);
  if (changes.length === 0) return { spec, changes };
  const rate = moved && !sameValue(moved.resources, spec.resources) ? moved.rate : undefined;
  return { spec: checked(next), changes, ...(rate ? { rate } : {}) };
}

/**
 * The probes after an update: each field the request gives replaces the spec's, the rest stays. A
 * readiness port that followed the HTTP port keeps following it, and a liveness path or port that
 * followed the readiness probe's keeps following it, unless the request sets one. `liveness: null`
 * removes the liveness probe; a new one starts from the defaults on the readiness path and port.
 */
export function mergeProbe(
  spec: Pick<AppSpec, 'probe' | 'defaultHttpPort'>,
  input: UpdateAppInput['probe'],
  defaultHttpPort: number,
): Probe {
  const before = spec.probe;
  const path = input?.path ?? before.path;
  const port = input?.port ?? (before.port === spec.defaultHttpPort ? defaultHttpPort : before.port);
  const grace = input?.startupGraceSeconds ?? before.startupGraceSeconds;
  const kept = before.liveness && {
    ...before.liveness,
    path: before.liveness.path === before.path ? path : before.liveness.path,
    port: before.liveness.port === before.port ? port : before.liveness.port,
  };
  const liveness =
    input?.liveness === null
      ? undefined
      : input?.liveness
        ? resolveLiveness(input.liveness, kept ?? { path, port })
        : kept;
  return {
    path,
    port,
    ...(grace !== undefined ? { startupGraceSeconds: grace } : {}),
    ...(liveness ? { liveness } : {}),
  };
}

/** What `resources` of an update resolves to, through the catalog exactly as on create. */
function resolveUpdatedResources(
  input: NonNullable<UpdateAppInput['resources']>,
  ctx: ChangeContext,
): { resources: AppSpec['resources']; rate: Rate } {
  if (!ctx.flavors) throw new Error('an update of resources needs the flavor catalog');
  const { flavor, units } = resolveFlavor(input, ctx.flavors);
  return { resources: resolveResources(flavor, units), rate: rateOf(flavor) };
}

function applyImage(spec: AppSpec, input: SetImageInput): ChangeResult {
  if (input.url === spec.image) return { spec, changes: [] };
  return { spec: checked({ ...spec, image: input.url }), changes: [`image ${spec.image} → ${input.url}`] };
}

/** Whether a `maxSurge`/`maxUnavailable` value means no replica at all ("0", "0%"). */
function isZero(v: string): boolean {
  return /^0+%?$/.test(v);
}

const show = (v: string | undefined): string => (v === undefined ? 'unset' : JSON.stringify(v));

/** The changed spec, still a valid spec (a bug here must not reach the scheduler). */
function checked(spec: AppSpec): AppSpec {
  return AppSpecSchema.parse(spec);
}

function fail(field: string, message: string): GantryError {
  return validationFailed([{ field, message }]);
}
