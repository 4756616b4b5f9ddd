import { z } from 'zod';

/**
 * Typed configuration from environment variables. Each service declares a zod object whose keys
 * are the variable names; `loadConfig` validates them once at boot and throws a `ConfigError`
 * naming every bad variable. Nothing outside a service's config module reads `process.env`.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const SECRET = Symbol('secret');
type Marked = { [SECRET]?: true };

/** Marks a variable as secret: it is never printed by `describeConfig` or in error messages. */
export function secret<T extends z.ZodType>(schema: T): T {
  (schema as unknown as Marked)[SECRET] = true;
  return schema;
}

function isSecret(schema: z.ZodType): boolean {
  let s: unknown = schema;
  while (s) {
    if ((s as Marked)[SECRET]) return true;
    const def = (s as { def?: { innerType?: unknown } }).def;
    s = def?.innerType;
  }
  return false;
}

export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    input[key] = v === '' ? undefined : v;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '?');
    const field = schema.shape[key] as z.ZodType | undefined;
    const shown = field && isSecret(field) ? '(secret)' : JSON.stringify(input[key] ?? null);
    return `${key}=${shown}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** The config as a printable record, secrets masked. */
export function describeConfig<S extends z.ZodObject>(
  schema: S,
  config: z.infer<S>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    out[key] = isSecret(field as z.ZodType) ? '***' : (config as Record<string, unknown>)[key];
  }
  return out;
}

/** Common variable types. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65_535).default(def),
  int: (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(def),
  number: (def: number, min = 0) => z.coerce.number().min(min).default(def),
  string: (def: string) => z.string().min(1).default(def),
  url: (def: string) => z.url().default(def),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /**
   * One NATS server or a comma-separated list of them (`nats://host:port`, `tls://…`, or `host:port`),
   * normalized to `a,b,c` without blanks. The client connects to one of them, learns the rest of the
   * cluster from it, and moves to another when it loses that one.
   */
  natsServers: (def: string) =>
    z
      .string()
      .transform((value, ctx) => {
        const servers = value.split(',').map((s) => s.trim());
        for (const server of servers) {
          const problem = natsServerProblem(server);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }
        return servers.join(',');
      })
      .default(def),
  namespace: () =>
    z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,30}$/, 'must be lowercase letters, digits and _, starting with a letter')
      .default('gantry'),
};

/** Why `server` is not a NATS server address, or undefined when it is one. */
function natsServerProblem(server: string): string | undefined {
  const shown = JSON.stringify(server);
  if (server === '') return 'a server in the list is empty (servers are separated by single commas)';
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `nats://${server}`);
  } catch {
    return `${shown} is not a server address (nats://host:port)`;
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:')
    return `${shown}: the scheme must be nats:// or tls://`;
  if (url.hostname === '') return `${shown} names no host`;
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '')
    return `${shown}: a server address has no path, query or fragment`;
  return undefined;
}

/** Variables every service reads: where NATS and PostgreSQL are, and its wire namespace. */
export const platformEnv = {
  /** The NATS server, or the servers of a cluster separated by commas. */
  NATS_URL: env.natsServers('nats://127.0.0.1:4222'),
  /**
   * Replicas of every stream and KV bucket the platform creates: 1 on a single server, 3 on a
   * three-server JetStream cluster. A start only raises existing ones to it, never lowers them.
   */
  GANTRY_NATS_REPLICAS: env.int(1, 1, 5),
  GANTRY_NAMESPACE: env.namespace(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
};
export const databaseEnv = {
  DATABASE_URL: secret(z.string().min(1).default('postgres://postgres@127.0.0.1:5432/gantry')),
};
