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
  /** Longest wait for a replica's answer (headers and body activity) before 504. */
  INGRESS_UPSTREAM_TIMEOUT_MS: env.int(300_000, 100, 3_600_000),
  /** How long an endpoint that refused a connection is tried last. */
  INGRESS_EJECT_MS: env.int(5_000, 0, 600_000),
});
export type IngressRouterConfig = z.infer<typeof IngressRouterConfigSchema>;

export const loadIngressRouterConfig = (): IngressRouterConfig => loadConfig(IngressRouterConfigSchema);
