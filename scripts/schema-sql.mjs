#!/usr/bin/env node
// Prints the SQL that brings an empty schema in line with a service's entities — the starting point
// of a migration (like TypeORM's migration:generate). Usage, after building the service:
//   node scripts/schema-sql.mjs <schema> <built entities module> [--outbox]
// e.g. node scripts/schema-sql.mjs scheduler apps/scheduler/dist/store/entities.js --outbox
import 'reflect-metadata';

import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import pg from 'pg';

const [schema, entitiesPath, ...flags] = process.argv.slice(2);
if (!schema || !entitiesPath) {
  console.error('usage: node scripts/schema-sql.mjs <schema> <built entities module> [--outbox]');
  process.exit(2);
}
const { createDataSource, OutboxMessage, schemaDrift } = await import('@gantry/database');
const mod = await import(pathToFileURL(resolve(entitiesPath)).href);
const entities = Object.values(mod).filter((v) => typeof v === 'function');
if (flags.includes('--outbox')) entities.push(OutboxMessage);

const admin = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `gantry_schema_sql_${randomBytes(4).toString('hex')}`;
const run = async (sql) => {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
};
await run(`CREATE DATABASE "${name}"`);
try {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const ds = createDataSource({ url: url.toString(), schema, entities, migrations: [] });
  await ds.initialize();
  await ds.query(`CREATE SCHEMA "${schema}"`);
  for (const q of await schemaDrift(ds)) console.log(`${q};`);
  await ds.destroy();
} finally {
  await run(`DROP DATABASE "${name}" WITH (FORCE)`);
}
