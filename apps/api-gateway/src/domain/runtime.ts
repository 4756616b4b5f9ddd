import {
  type AppSpec,
  AppSpecSchema,
  type EnvVar,
  type Info,
  type LivenessProbe,
  type Probe,
  type Rate,
} from '@gantry/contracts';
import { conflict } from '@gantry/errors';

import type { Lifecycle } from './lifecycle.js';

/**
 * The part of a spec that its replicas run — what a rolling update replaces and a rollback restores
 * (the scheduler's `runtimeHash` covers the same fields). Name, labels, scaling and the
 * deployment strategy are not part of it: a rollback leaves them as they are.
 */
export type RuntimeSpec = Pick<
  AppSpec,
  'image' | 'command' | 'envVars' | 'resources' | 'defaultHttpPort' | 'grpcPort' | 'probe'
>;

/**
 * What an app ran before its current runtime spec (stored with the app, null until its runtime spec
 * first changes): what `PUT /v1/app/{id}/rollback` returns to.
 */
export interface PreviousRuntime {
  runtime: RuntimeSpec;
  /** The rate that went with it (resources name the flavor whose price is billed). */
  rate: Rate;
  /** When the current runtime spec replaced it (ISO date). */
  since: string;
  /**
   * Whether a failed rollout of the current runtime spec may still be rolled back automatically:
   * true after an update or a new image; false after any rollback (a rollback whose own rollout
   * fails is not undone, or two broken versions would take turns) and once an automatic rollback
   * was tried.
   */
  autoRollbackable: boolean;
}

/** What of an app a rollback reads. */
export interface RollbackSource {
  spec: AppSpec;
  rate: Rate;
  previousRuntime: PreviousRuntime | null;
}

/** An app's spec, rate and previous runtime after a rollback, and what changed in words. */
export interface RolledBack {
  spec: AppSpec;
  rate: Rate;
  previousRuntime: PreviousRuntime;
  changes: string[];
}

/** Env var names listed one by one in an event before the rest is counted. */
const MAX_NAMED_ENV = 20;
/** Characters of a command shown in an event, each side of the arrow. */
const MAX_COMMAND_SHOWN = 200;

export function runtimeOf(spec: AppSpec): RuntimeSpec {
  return {
    image: spec.image,
    ...(spec.command ? { command: spec.command } : {}),
    envVars: spec.envVars,
    resources: spec.resources,
    defaultHttpPort: spec.defaultHttpPort,
    ...(spec.grpcPort !== undefined ? { grpcPort: spec.grpcPort } : {}),
    probe: spec.probe,
  };
}

/** `spec` running `runtime` instead of its own; everything else kept. */
export function withRuntime(spec: AppSpec, runtime: RuntimeSpec): AppSpec {
  const rest: AppSpec = { ...spec };
  delete rest.command;
  delete rest.grpcPort;
  // Parsed: a stored runtime that no longer makes a valid spec must not reach the scheduler.
  return AppSpecSchema.parse({ ...rest, ...runtime });
}

/** Whether two specs run the same thing (a change between them rolls no replica). */
export function sameRuntime(a: AppSpec, b: AppSpec): boolean {
  return sameValue(runtimeOf(a), runtimeOf(b));
}

/**
 * What changed between two specs' runtime parts, in words for the app's event log. Environment
 * variables are named, never their values ("envVars: API_KEY changed, DEBUG added").
 */
export function describeRuntimeChanges(before: AppSpec, after: AppSpec): string[] {
  const changes: string[] = [];
  if (before.image !== after.image) changes.push(`image ${before.image} → ${after.image}`);
  if (canonical(before.command) !== canonical(after.command))
    changes.push(`command ${showCommand(before.command)} → ${showCommand(after.command)}`);
  const env = envChanges(before.envVars, after.envVars);
  if (env) changes.push(env);
  if (canonical(before.resources) !== canonical(after.resources))
    changes.push(`resources ${showResources(before)} → ${showResources(after)}`);
  if (before.defaultHttpPort !== after.defaultHttpPort)
    changes.push(`defaultHttpPort ${before.defaultHttpPort} → ${after.defaultHttpPort}`);
  if (before.grpcPort !== after.grpcPort)
    changes.push(`grpcPort ${before.grpcPort ?? 'none'} → ${after.grpcPort ?? 'none'}`);
  if (before.probe.path !== after.probe.path || before.probe.port !== after.probe.port)
    changes.push(
      `probe ${before.probe.path} on ${before.probe.port} → ${after.probe.path} on ${after.probe.port}`,
    );
  changes.push(...describeProbeChanges(before.probe, after.probe));
  return changes;
}

/**
 * What changed in the probes beyond the readiness path and port (which `describeRuntimeChanges`
 * names): the startup grace and the liveness probe, in words for the app's event log.
 */
function describeProbeChanges(before: Probe, after: Probe): string[] {
  const changes: string[] = [];
  const graceBefore = before.startupGraceSeconds ?? 0;
  const graceAfter = after.startupGraceSeconds ?? 0;
  if (graceBefore !== graceAfter) changes.push(`probe.startupGraceSeconds ${graceBefore} → ${graceAfter}`);
  const livenessBefore = showLiveness(before.liveness);
  const livenessAfter = showLiveness(after.liveness);
  if (livenessBefore !== livenessAfter) changes.push(`liveness probe ${livenessBefore} → ${livenessAfter}`);
  return changes;
}

function showLiveness(l: LivenessProbe | undefined): string {
  if (!l) return 'none';
  return (
    `GET ${l.path} on ${l.port} every ${l.periodSeconds} s ` +
    `(restart after ${l.failureThreshold} failures, ${l.timeoutSeconds} s timeout)`
  );
}

/**
 * The previous runtime an app keeps after a change from `before` to `after` (at `at`): the runtime
 * `before` ran, when the runtime changed; what it kept already, when it did not.
 */
export function afterChange(before: RollbackSource, after: AppSpec, at: Date): PreviousRuntime | null {
  if (sameRuntime(before.spec, after)) return before.previousRuntime;
  return {
    runtime: runtimeOf(before.spec),
    rate: before.rate,
    since: at.toISOString(),
    autoRollbackable: true,
  };
}

/**
 * Swaps an app's runtime spec with its previous one (so that a second rollback returns): the rest of
 * the spec stays. 409 CONFLICT when the app has never run anything else.
 */
export function rollBack(app: RollbackSource & { id: string }, at: Date): RolledBack {
  const previous = app.previousRuntime;
  if (!previous)
    throw conflict(
      `cannot roll app ${app.id} back: it has no previous runtime spec (its image, command, environment, resources, ports and probe have not changed since it was created)`,
    );
  const spec = withRuntime(app.spec, previous.runtime);
  return {
    spec,
    rate: previous.rate,
    previousRuntime: {
      runtime: runtimeOf(app.spec),
      rate: app.rate,
      since: at.toISOString(),
      autoRollbackable: false,
    },
    changes: describeRuntimeChanges(app.spec, spec),
  };
}

/** What of an app decides an automatic rollback. */
export interface AutoRollbackView {
  lifecycle: Lifecycle;
  /** The desired version that made the current runtime spec (or a later change). */
  desiredVersion: number;
  info: Info;
  spec: AppSpec;
  previousRuntime: PreviousRuntime | null;
}

/**
 * Whether a status saying the rollout failed (reported at `failedAt`) rolls the app back by itself:
 * the app asks for it, is asked to run, its newest status still says so, it has a previous runtime,
 * its current one came from an update (not a rollback, and not already rolled back), and the failure
 * was reported after the current runtime spec was made (not a late report about an older one).
 */
export function autoRollbackDue(
  app: AutoRollbackView,
  failure: { at: string; desiredVersion?: number | undefined },
): boolean {
  const previous = app.previousRuntime;
  // The failure is about the current runtime spec: decided under its desired version or a later
  // one (schedulers that say so), else reported after it was made.
  const current =
    failure.desiredVersion !== undefined
      ? failure.desiredVersion >= app.desiredVersion
      : previous !== null && Date.parse(failure.at) > Date.parse(previous.since);
  return (
    app.spec.deploymentStrategy.autoRollback === true &&
    app.lifecycle === 'RUNNING' &&
    app.info.code === 'APP_ROLLOUT_FAILED' &&
    previous !== null &&
    previous.autoRollbackable &&
    current
  );
}

function envChanges(before: readonly EnvVar[], after: readonly EnvVar[]): string | undefined {
  const old = new Map(before.map((v) => [v.name, v.value]));
  const now = new Map(after.map((v) => [v.name, v.value]));
  const parts: string[] = [];
  for (const [name, value] of now)
    if (!old.has(name)) parts.push(`${name} added`);
    else if (old.get(name) !== value) parts.push(`${name} changed`);
  for (const name of old.keys()) if (!now.has(name)) parts.push(`${name} removed`);
  if (parts.length === 0)
    return canonical(before) === canonical(after) ? undefined : 'envVars: order changed';
  const shown = parts.slice(0, MAX_NAMED_ENV);
  const more = parts.length - shown.length;
  return `envVars: ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

function showCommand(command: readonly string[] | undefined): string {
  if (!command) return "the image's own";
  const text = JSON.stringify(command);
  return text.length > MAX_COMMAND_SHOWN ? `${text.slice(0, MAX_COMMAND_SHOWN)}…` : text;
}

function showResources(spec: AppSpec): string {
  const r = spec.resources;
  return `${r.units} ${r.type.toUpperCase()} of ${r.flavor}`;
}

/** Whether two JSON values are equal, whatever the order of their objects' keys. */
export function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with object keys sorted, so that equal values always give equal text. */
function canonical(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}
