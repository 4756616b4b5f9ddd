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
  namespace: () =>
    z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,30}$/, 'must be lowercase letters, digits and _, starting with a letter')
      .default('gantry'),
};

/** Variables every service reads: where NATS and PostgreSQL are, and its wire namespace. */
export const platformEnv = {
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  GANTRY_NAMESPACE: env.namespace(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
};
export const databaseEnv = {
  DATABASE_URL: secret(z.string().min(1).default('postgres://postgres@127.0.0.1:5432/gantry')),
};
