import type { NodeHealth } from './types.js';

export interface HealthPolicy {
  /** A node whose last heartbeat is older than this is NOT_READY: nothing new is placed there. */
  notReadyAfterMs: number;
  /** … and older than this is LOST: its replicas are placed elsewhere. */
  lostAfterMs: number;
}

/** Health of a node from the age of its last heartbeat. Pure. */
export function nodeHealth(lastHeartbeatMs: number, nowMs: number, policy: HealthPolicy): NodeHealth {
  const age = nowMs - lastHeartbeatMs;
  if (age > policy.lostAfterMs) return 'LOST';
  if (age > policy.notReadyAfterMs) return 'NOT_READY';
  return 'READY';
}
