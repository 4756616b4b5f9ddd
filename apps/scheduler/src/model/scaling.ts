import {
  ACTIVE_STATES,
  type AppDesired,
  type AppScale,
  automaticOf,
  replicasWanted,
  type ScalingEntry,
} from '@gantry/contracts';

import { routeFor } from './route.js';
import type { AppView, AutoscaleState, NodeView, ReplicaView } from './types.js';

/** The replica count an app works towards now: its fixed count, or the autoscaler's within bounds. */
export const wantedReplicas = (app: AppView): number =>
  replicasWanted(app.spec.scalingStrategy, app.scaling?.target);

/**
 * An app's autoscaling state once its desired state `d` is saved. A new automatic app, or one started
 * again, begins at `max(1, replicasMin)`; an app switched from a fixed count keeps that count (the
 * replicas that serve keep serving) until the autoscaler decides; a fixed app has none.
 */
export function scalingOnDesired(prev: AppView | undefined, d: AppDesired): AutoscaleState | undefined {
  const auto = automaticOf(d.spec.scalingStrategy);
  if (!auto || d.lifecycle !== 'RUNNING') return undefined;
  if (prev?.scaling && prev.lifecycle === 'RUNNING') {
    const target = replicasWanted(d.spec.scalingStrategy, prev.scaling.target);
    return target === prev.scaling.target ? prev.scaling : { ...prev.scaling, target, since: d.at };
  }
  const running = prev && prev.lifecycle === 'RUNNING' && ACTIVE_STATES.has(prev.state);
  const from =
    running && 'fixed' in prev.spec.scalingStrategy ? prev.spec.scalingStrategy.fixed.replicas : undefined;
  return { target: replicasWanted(d.spec.scalingStrategy, from), since: d.at };
}

export interface ScaleOutcome {
  scaling: AutoscaleState;
  /** Events to record: the decision and the metric's trouble (or its end), each with its reason. */
  events: Array<{ type: 'AUTOSCALED' | 'METRICS_UNAVAILABLE'; message: string }>;
}

/**
 * Applies an autoscaler decision to an app that scales automatically and is asked to run; undefined
 * when it does not apply (a fixed app, one stopped or ended, nothing new). The count is kept within
 * the app's current bounds, whatever bounds the decision was made under.
 */
export function applyScale(app: AppView, s: AppScale): ScaleOutcome | undefined {
  if (!app.scaling || !automaticOf(app.spec.scalingStrategy) || app.lifecycle !== 'RUNNING') return undefined;
  if (!ACTIVE_STATES.has(app.state)) return undefined;
  // Decided before the count last changed (a late delivery, or before a new spec): superseded.
  if (Date.parse(s.at) < Date.parse(app.scaling.since)) return undefined;
  const events: ScaleOutcome['events'] = [];
  const target = replicasWanted(app.spec.scalingStrategy, s.replicas);
  let scaling = app.scaling;
  if (target !== scaling.target) {
    events.push({ type: 'AUTOSCALED', message: s.message });
    scaling = { ...scaling, target, since: s.at };
  }
  if (s.problem !== scaling.problem) {
    events.push({
      type: 'METRICS_UNAVAILABLE',
      message: s.problem
        ? `autoscaling holds at ${target} replicas: ${s.problem}`
        : 'the metric can be read again: autoscaling resumes',
    });
    scaling = { ...scaling };
    if (s.problem) scaling.problem = s.problem;
    else delete scaling.problem;
  }
  return events.length ? { scaling, events } : undefined;
}

/**
 * The `scaling` KV entry of an app the autoscaler must watch (automatic, asked to run, active), or
 * undefined when it must not. Everything but version/updatedAt, which the fleet sets on change.
 */
export function scalingEntryFor(
  app: AppView,
  replicas: readonly ReplicaView[],
  nodes: ReadonlyMap<string, NodeView>,
): Omit<ScalingEntry, 'version' | 'updatedAt'> | undefined {
  const automatic = automaticOf(app.spec.scalingStrategy);
  if (!automatic || !app.scaling || app.lifecycle !== 'RUNNING' || !ACTIVE_STATES.has(app.state))
    return undefined;
  const r = app.spec.resources;
  return {
    appId: app.id,
    projectId: app.projectId,
    desiredVersion: app.desiredVersion,
    state: app.state,
    automatic,
    replicas: wantedReplicas(app),
    replicasSince: app.scaling.since,
    perReplica: { cpu: r.cpu, memory: r.memory, gpu: r.gpu },
    ready: routeFor(app, replicas, nodes).endpoints.map((e) => ({
      replicaId: e.replicaId,
      nodeId: e.nodeId,
    })),
  };
}
