import { databaseEnv, env, loadConfig, platformEnv, secret } from '@gantry/config';
import { z } from 'zod';

/** The service's name: its durable consumers and its NATS connection are named after it. */
export const SERVICE = 'api-gateway';

export const ApiGatewayConfigSchema = z.object({
  ...platformEnv,
  ...databaseEnv,
  /** The API's address: loopback unless told (a host serving others sets 0.0.0.0 or its address). */
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.port(8000),
  /** When set, the secret of the `admin` token of the `default` project (created or updated at start). */
  GANTRY_ADMIN_TOKEN: secret(
    z
      .string()
      .regex(/^[\x21-\x7e]{16,512}$/, 'must be 16-512 printable ASCII characters without spaces')
      .optional(),
  ),
  /**
   * The key private registries' passwords are sealed with (any string of 32+ characters; keep it, and
   * keep it secret: stored passwords cannot be read without it). Without it, registries cannot be added.
   */
  GANTRY_SECRET_KEY: secret(z.string().min(32, 'must be at least 32 characters').optional()),
  /** Where an app answers; `{id}` is replaced by the app id. */
  GANTRY_APP_URL_TEMPLATE: z
    .string()
    .refine((t) => t.includes('{id}'), 'must contain {id}')
    .refine((t) => URL.canParse(t.replaceAll('{id}', 'x')), 'must be a URL once {id} is replaced')
    .default('http://{id}.app.localhost:8080'),
  /** How long to wait for log-collector and billing-meter to answer a query. */
  QUERY_TIMEOUT_MS: env.int(5000, 100, 60_000),
  /** Largest accepted request body. */
  HTTP_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/, 'must be a size like 1mb or 512kb')
    .default('1mb'),
  /** Requests per second each token may make on average (unauthenticated requests: per client address). */
  RATE_LIMIT_PER_SECOND: z.coerce
    .number({ error: 'must be a number' })
    .positive('must be above 0')
    .max(1_000_000, 'must be at most 1000000')
    .default(20),
  /** Requests a token (or client address) may make at once, above its average rate. */
  RATE_LIMIT_BURST: env.int(100, 1, 1_000_000),
  /**
   * How often the `tokens` KV bucket (what the ingress enforces) is reconciled with the database:
   * missing or stale entries written again, keys of tokens that no longer exist deleted.
   */
  TOKENS_RECONCILE_MS: env.int(60_000, 1_000, 86_400_000),
  /**
   * Most tokens and client addresses tracked at once. One is forgotten only once its bucket has
   * refilled (so a flood of new callers cannot reset a limited one); while every one is still
   * refilling, new callers get 429 until the oldest has.
   */
  RATE_LIMIT_MAX_BUCKETS: env.int(100_000, 100, 10_000_000),
});
export type ApiGatewayConfig = z.infer<typeof ApiGatewayConfigSchema>;

export const loadApiGatewayConfig = (): ApiGatewayConfig => loadConfig(ApiGatewayConfigSchema);
