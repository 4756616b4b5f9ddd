import { hostname } from 'node:os';

import { env, loadConfig, platformEnv } from '@gantry/config';
import { z } from 'zod';

export const IngressRouterConfigSchema = z.object({
  ...platformEnv,
  /** Admin server: /healthz, /readyz, /metrics. */
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.port(8105),
  /** The proxy itself: what users' requests reach. 0 picks a free port (tests). */
  INGRESS_HOST: env.string('127.0.0.1'),
  INGRESS_PORT: env.port(8080),
  /** HTTP/2 in cleartext (h2c, as gRPC clients speak it) on the same hosts. 0 picks a free port. */
  INGRESS_H2C_PORT: env.port(8081),
  /** Apps answer at `<appId>.<domain>` and `<appId>-<port>.<domain>`. */
  GANTRY_APPS_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, {
      message: 'must be a DNS name such as app.localhost',
    })
    .default('app.localhost')
    .transform((d) => d.toLowerCase()),
  /**
   * Longest silence on a connection to a replica (no byte either way) once it is connected: before
   * its answer, 504; during a response body (a stream, SSE), the response is cut. Streams that may
   * stay quiet longer must send something (a comment, a ping) at least this often.
   */
  INGRESS_UPSTREAM_TIMEOUT_MS: env.int(300_000, 100, 3_600_000),
  /** Longest wait for a connection to a replica; then the next replica is tried (any method: nothing was sent). */
  INGRESS_CONNECT_TIMEOUT_MS: env.int(2_000, 50, 60_000),
  /**
   * Longest wait, once a request is sent, for the replica's response headers (a frozen replica
   * accepts connections and never answers); then 504, or the next replica for a request that may be
   * sent twice. A body streaming after its headers is not bound by it.
   */
  INGRESS_RESPONSE_HEADER_TIMEOUT_MS: env.int(60_000, 100, 3_600_000),
  /** Most replicas one request is tried on (fewer when the app has fewer ready replicas). */
  INGRESS_MAX_ATTEMPTS: env.int(3, 1, 10),
  /** Failed attempts in a row (refused, unreachable, timed out) that eject a replica. */
  INGRESS_EJECT_AFTER_FAILURES: env.int(3, 1, 1_000),
  /**
   * How long an ejected replica gets traffic only when no other is left; then it is tried again, and
   * ejected again at its next failure until it answers.
   */
  INGRESS_EJECT_MS: env.int(10_000, 0, 600_000),
  /**
   * Longest a request for an app at zero replicas is held while the app wakes; then 503 with
   * `Retry-After`. At most 240 s: Node ends a request whose body is still unread after 300 s.
   */
  INGRESS_HOLD_TIMEOUT_MS: env.int(60_000, 100, 240_000),
  /** Most requests held per app; beyond, 503 at once (0: never hold). */
  INGRESS_HOLD_MAX_PER_APP: env.int(1_000, 0, 100_000),
  /** How often requests per app (and held ones) are reported to the autoscaler (`ingress.traffic.v1`). */
  INGRESS_TRAFFIC_INTERVAL_MS: env.int(1_000, 100, 60_000),
  /** This ingress in its traffic reports; default `<hostname>:<pid>`. */
  INGRESS_ID: z
    .string()
    .min(1)
    .max(200)
    .default(() => `${hostname().slice(0, 180)}:${process.pid}`),
});
export type IngressRouterConfig = z.infer<typeof IngressRouterConfigSchema>;

export const loadIngressRouterConfig = (): IngressRouterConfig => loadConfig(IngressRouterConfigSchema);
