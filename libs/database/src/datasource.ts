import { DataSource, type MixedList, type QueryRunner } from 'typeorm';

export interface DatabaseOptions {
  url: string;
  /** The service's own schema: every table of the service lives there, and nowhere else. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function>;
  poolSize?: number;
}

const SCHEMA = /^[a-z][a-z0-9_]{0,62}$/;

export function createDataSource(opts: DatabaseOptions): DataSource {
  if (!SCHEMA.test(opts.schema)) throw new Error(`schema "${opts.schema}" must match ${SCHEMA}`);
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    schema: opts.schema,
    entities: opts.entities,
    migrations: opts.migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: ['error'],
    extra: { max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000 },
  });
}

/**
 * Creates the schema and runs pending migrations, under an advisory lock so that several instances
 * of a service starting at once migrate exactly once.
 */
export async function prepareDatabase(ds: DataSource): Promise<void> {
  if (!ds.isInitialized) await ds.initialize();
  const schema = schemaOf(ds);
  const runner = ds.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`gantry-migrate:${schema}`]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await runner
      .query('SELECT pg_advisory_unlock(hashtext($1))', [`gantry-migrate:${schema}`])
      .catch(() => undefined);
    await runner.release();
  }
}

/** SQL that would bring the schema in line with the entities. Empty when migrations and entities agree. */
export async function schemaDrift(ds: DataSource): Promise<string[]> {
  const sql = await ds.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}

/** `"schema"."table"` for raw SQL in migrations and repositories of a schema-scoped data source. */
export function qualified(runner: QueryRunner | DataSource, table: string): string {
  const ds = 'connection' in runner ? runner.connection : runner;
  return `"${schemaOf(ds)}"."${table}"`;
}

export function schemaOf(ds: DataSource): string {
  const schema = (ds.options as { schema?: string }).schema;
  if (!schema) throw new Error('data source has no schema');
  return schema;
}
