import type { AppState } from './app-state.js';

/**
 * Reason codes for `status.info.code` and app events. The reference's `InfoCodeEnum` vocabulary
 * (ai-deploy-spec.md §1.2) plus the codes Gantry needs for its own decisions.
 */
export const INFO_CODES = [
  'APP_QUEUED',
  'APP_INITIALIZING',
  'APP_SCALING',
  'APP_RUNNING',
  'APP_STOPPING',
  'APP_STOPPED',
  'APP_FAILED',
  'APP_ERROR',
  'APP_CREATE_ERROR',
  'APP_INTERRUPTED_BY_PLATFORM',
  'APP_DELETING',
  'APP_DELETED',
  'APP_CRASH_LOOP',
  'APP_NO_CAPACITY',
  'APP_QUOTA_EXCEEDED',
  'APP_PROGRESS_DEADLINE_EXCEEDED',
  /** A rolling update's new replicas fail (or are not ready in time) while the previous ones keep serving. */
  'APP_ROLLOUT_FAILED',
  'APP_METRICS_UNAVAILABLE',
  'JOB_IMAGE_PULL',
  'JOB_IMAGE_PULL_BACKOFF',
  'JOB_INVALID_IMAGE_NAME',
  'JOB_REGISTRY_UNAVAILABLE',
  'JOB_IMAGE_INSPECT_ERROR',
  'JOB_EVICTED',
  'COMPATIBILITY',
] as const;
export type InfoCode = (typeof INFO_CODES)[number];

/**
 * Replica failure reasons that are the platform's doing (an engine that cannot create containers, a
 * node without the GPUs it advertised): an app failing for one of them goes ERROR, not FAILED.
 */
export const PLATFORM_INFO_CODES: ReadonlySet<InfoCode> = new Set<InfoCode>(['APP_ERROR']);

/** The code an app's status carries in each state unless a decision names a more precise one. */
export const STATE_INFO_CODE: Record<AppState, InfoCode> = {
  QUEUED: 'APP_QUEUED',
  INITIALIZING: 'APP_INITIALIZING',
  SCALING: 'APP_SCALING',
  RUNNING: 'APP_RUNNING',
  STOPPING: 'APP_STOPPING',
  STOPPED: 'APP_STOPPED',
  FAILED: 'APP_FAILED',
  ERROR: 'APP_ERROR',
  DELETING: 'APP_DELETING',
  DELETED: 'APP_DELETED',
};
