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

/** What the ingress remembers of an endpoint that failed lately (passive health). */
export interface EndpointHealth {
  /** Failed attempts in a row (refused, unreachable, timed out, reset before an answer). */
  failures: number;
  /** Until when (ms, epoch) the endpoint gets traffic only when nothing else is left; 0: not ejected. */
  ejectedUntil: number;
  /** When it last failed (ms, epoch): entries quiet for long are forgotten. */
  lastFailureAt: number;
}

/** When an endpoint is ejected, and for how long. */
export interface EjectionPolicy {
  /** Failed attempts in a row that eject an endpoint (at least 1). */
  afterFailures: number;
  /** How long an ejection lasts (ms). */
  ejectMs: number;
}

/**
 * An endpoint's health after one attempt. An answer (any status) forgets its failures. A failure
 * counts; the `afterFailures`-th in a row ejects the endpoint for `ejectMs`, and so does every
 * further failure until an answer — so an endpoint tried again once its ejection is over (half-open)
 * goes straight back out if it still fails. `ejected` says whether this attempt began an ejection.
 */
export function afterAttempt(
  prev: EndpointHealth | undefined,
  ok: boolean,
  now: number,
  policy: EjectionPolicy,
): { health: EndpointHealth | undefined; ejected: boolean } {
  if (ok) return { health: undefined, ejected: false };
  const failures = (prev?.failures ?? 0) + 1;
  const wasEjected = (prev?.ejectedUntil ?? 0) > now;
  if (failures < Math.max(1, policy.afterFailures))
    return {
      health: { failures, ejectedUntil: prev?.ejectedUntil ?? 0, lastFailureAt: now },
      ejected: false,
    };
  return {
    health: { failures, ejectedUntil: now + policy.ejectMs, lastFailureAt: now },
    ejected: !wasEjected && policy.ejectMs > 0,
  };
}

/** Whether an endpoint is ejected at `now`. */
export const isEjected = (h: EndpointHealth | undefined, now: number): boolean =>
  (h?.ejectedUntil ?? 0) > now;

/**
 * Round robin: the order in which to try `upstreams` for the `turn`-th request of an app — starting at
 * `turn mod n` — with ejected endpoints (see `afterAttempt`) moved to the end, so that they are tried
 * only when nothing else is left.
 */
export function tryOrder(
  upstreams: readonly Upstream[],
  turn: number,
  health: ReadonlyMap<string, EndpointHealth> = new Map(),
  now = 0,
): Upstream[] {
  const n = upstreams.length;
  if (n === 0) return [];
  const start = ((turn % n) + n) % n;
  const rotated = [...upstreams.slice(start), ...upstreams.slice(0, start)];
  const out = (u: Upstream): boolean => isEjected(health.get(upstreamKey(u)), now);
  return [...rotated.filter((u) => !out(u)), ...rotated.filter(out)];
}

/** Why an attempt to reach a replica failed, as far as retrying it elsewhere is concerned. */
export interface AttemptFailure {
  method: string;
  /** Whether the request has a body (Content-Length above 0, or chunked). */
  hasBody: boolean;
  /** Whether anything of the request reached the replica's connection (it connected). */
  sent: boolean;
  /** Whether the ingress already began answering the client (headers sent). */
  answered: boolean;
  /** Attempts made so far, this one included. */
  attempts: number;
  /** Most attempts for this request: min(replicas, the configured cap). */
  maxAttempts: number;
}

/** Methods that may be sent twice (RFC 9110 §9.2.2) — when their body, if any, can be sent again. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * Whether a failed attempt may be made again on another replica. Never once the client got an
 * answer or attempts ran out. A request that never reached the replica (the connection was refused,
 * could not be made in time) may go elsewhere whatever its method: nothing was sent, its body is
 * still unread. Once sent, only an idempotent request without a body is sent again (the body was
 * streamed and is gone): a POST the replica may have acted on is never repeated.
 */
export function mayRetry(f: AttemptFailure): boolean {
  if (f.answered || f.attempts >= f.maxAttempts) return false;
  if (!f.sent) return true;
  return IDEMPOTENT.has(f.method.toUpperCase()) && !f.hasBody;
}
