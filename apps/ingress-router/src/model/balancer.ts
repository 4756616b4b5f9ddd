import type { AppState, RouteEntry } from '@gantry/contracts';

/** One replica's listener for one container port, as the ingress dials it. */
export interface Upstream {
  replicaId: string;
  nodeId: string;
  address: string;
  port: number;
}

/** States in which ready replicas take traffic (during SCALING, replicas that were serving keep serving). */
const SERVING: ReadonlySet<AppState> = new Set<AppState>(['RUNNING', 'SCALING']);
/** States from which an app may soon serve (starting, scaling, or scaled to zero): clients should retry. */
const WORTH_RETRYING: ReadonlySet<AppState> = new Set<AppState>([
  'QUEUED',
  'INITIALIZING',
  'SCALING',
  'RUNNING',
]);

export type Serving =
  | { ok: true; upstreams: Upstream[] }
  | { ok: false; message: string; state: AppState; retryAfterSeconds?: number };

/**
 * Where a request for `containerPort` of an app may go: every ready replica publishing that port, in
 * route order. When there is none, why — naming the app's state — and whether to come back soon.
 */
export function serving(route: RouteEntry, containerPort: number): Serving {
  const upstreams: Upstream[] = [];
  if (SERVING.has(route.state))
    for (const e of route.endpoints) {
      const port = e.ports[String(containerPort)];
      if (e.address === '' || port === undefined || !Number.isInteger(port) || port < 1 || port > 65535)
        continue;
      upstreams.push({ replicaId: e.replicaId, nodeId: e.nodeId, address: e.address, port });
    }
  if (upstreams.length > 0) return { ok: true, upstreams };
  const retry = WORTH_RETRYING.has(route.state) ? { retryAfterSeconds: 5 } : {};
  const message = SERVING.has(route.state)
    ? `app ${route.appId} is ${route.state} but has no ready replica${route.endpoints.length > 0 ? ` serving port ${containerPort}` : ''}`
    : `app ${route.appId} is ${route.state}`;
  return { ok: false, message, state: route.state, ...retry };
}

/** The key an endpoint is remembered by when it fails. */
export const upstreamKey = (u: Pick<Upstream, 'address' | 'port'>): string => `${u.address}:${u.port}`;

/**
 * Round robin: the order in which to try `upstreams` for the `turn`-th request of an app — starting at
 * `turn mod n` — with endpoints that failed recently (`downUntil` in the future) moved to the end, so
 * that they are tried only when nothing else is left.
 */
export function tryOrder(
  upstreams: readonly Upstream[],
  turn: number,
  downUntil: ReadonlyMap<string, number> = new Map(),
  now = 0,
): Upstream[] {
  const n = upstreams.length;
  if (n === 0) return [];
  const start = ((turn % n) + n) % n;
  const rotated = [...upstreams.slice(start), ...upstreams.slice(0, start)];
  const isDown = (u: Upstream): boolean => (downUntil.get(upstreamKey(u)) ?? 0) > now;
  return [...rotated.filter((u) => !isDown(u)), ...rotated.filter(isDown)];
}
