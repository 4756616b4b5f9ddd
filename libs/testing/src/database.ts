import pg from 'pg';

import { uniqueName } from './names.js';

/** Where tests create their databases: the machine's PostgreSQL, as an administrator. */
export const TEST_PG_ADMIN_URL =
  process.env['TEST_PG_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A database of its own for one test file; `drop()` removes it (disconnecting any straggler). */
export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const name = uniqueName(`gantry_${prefix}`).toLowerCase();
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
