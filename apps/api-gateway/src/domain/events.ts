import type { AppDesired, AppEventBatch, AppSpec, InfoCode, Rate, ScalingStrategy } from '@gantry/contracts';

import type { Lifecycle } from './lifecycle.js';

/** What of an app its desired-state event carries. */
export interface DesiredSource {
  id: string;
  projectId: string;
  spec: AppSpec;
  rate: Rate;
}

/**
 * `app.desired.v1`: the whole desired state as a snapshot with its version. The event id (the
 * JetStream dedupe id) is derived from app and version, so a resend is recognised.
 */
export function desiredEvent(
  app: DesiredSource,
  lifecycle: Lifecycle,
  version: number,
  at: Date,
): AppDesired {
  return {
    id: `${app.id}:desired:${version}`,
    appId: app.id,
    projectId: app.projectId,
    version,
    at: at.toISOString(),
    lifecycle,
    spec: app.spec,
    rate: app.rate,
  };
}

/** `app.event.v2` recording what a user asked for, for the app's event log: one event. */
export function userEvent(
  app: { id: string; projectId: string },
  version: number,
  at: Date,
  reason: InfoCode,
  message: string,
): AppEventBatch {
  const id = `${app.id}:api:${version}`;
  return {
    id,
    events: [
      {
        id,
        appId: app.id,
        projectId: app.projectId,
        at: at.toISOString(),
        source: 'api-gateway',
        type: 'SPEC_CHANGED',
        reason,
        message: message.slice(0, 8192),
      },
    ],
  };
}

/** A scaling strategy in a few words: `2`, or `auto 0–4 on CPU 50 %`. */
export function describeScaling(s: ScalingStrategy): string {
  if ('fixed' in s) return String(s.fixed.replicas);
  const a = s.automatic;
  const metric = a.customMetrics
    ? `custom metric ${a.customMetrics.valueLocation} (target ${a.customMetrics.targetValue})`
    : `${a.resourceType ?? 'CPU'} ${a.averageUsageTarget ?? 75} %`;
  return `auto ${a.replicasMin}–${a.replicasMax} on ${metric}`;
}

/** A one-line summary of a spec for the event log: image, resources, replicas. */
export function describeSpec(spec: AppSpec): string {
  const r = spec.resources;
  return `${spec.image}, ${describeScaling(spec.scalingStrategy)} × ${r.units} ${r.type.toUpperCase()} of ${r.flavor}`;
}
