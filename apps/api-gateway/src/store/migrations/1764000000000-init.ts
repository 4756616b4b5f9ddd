import { outboxTableSql, qualified, schemaOf } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
const GB = 1000 ** 3;
/** Network figures are bytes per second. */
const Mbps = 1_000_000 / 8;

/**
 * The flavor catalog Gantry ships with (reference §1.1, §11; prices from §6). Operators change it with
 * later migrations or SQL; the API only reads it.
 */
export const SEED_FLAVORS = [
  {
    id: 'ai1-1-cpu',
    type: 'cpu',
    isDefault: true,
    description: '1 vCPU, 4 GiB RAM, 20 GiB local storage per unit',
    maxUnits: 12,
    cpuPerUnit: 1,
    memoryPerUnit: 4 * GiB,
    ephemeralStoragePerUnit: 20 * GiB,
    publicNetworkPerUnit: 250 * Mbps,
    privateNetworkPerUnit: 0,
    gpuBrand: null,
    gpuModel: null,
    gpuMemory: null,
    unitPriceMicros: 30_000,
  },
  {
    id: 'ai1-1-gpu',
    type: 'gpu',
    isDefault: true,
    description: '1 × NVIDIA V100S 32 GiB, 13 vCPU, 40 GiB RAM, 650 GB local storage per unit',
    maxUnits: 4,
    cpuPerUnit: 13,
    memoryPerUnit: 40 * GiB,
    ephemeralStoragePerUnit: 650 * GB,
    publicNetworkPerUnit: 1250 * Mbps,
    privateNetworkPerUnit: 0,
    gpuBrand: 'NVIDIA',
    gpuModel: 'V100S',
    gpuMemory: 32 * GiB,
    unitPriceMicros: 1_930_000,
  },
  {
    id: 'h100-1-gpu',
    type: 'gpu',
    isDefault: false,
    description: '1 × NVIDIA H100 80 GiB, 28 vCPU, 350 GiB RAM, 3 TiB local storage per unit',
    maxUnits: 4,
    cpuPerUnit: 28,
    memoryPerUnit: 350 * GiB,
    ephemeralStoragePerUnit: 3 * TiB,
    publicNetworkPerUnit: 5000 * Mbps,
    privateNetworkPerUnit: 0,
    gpuBrand: 'NVIDIA',
    gpuModel: 'H100',
    gpuMemory: 80 * GiB,
    unitPriceMicros: 2_990_000,
  },
] as const;

/** Generated with `node scripts/schema-sql.mjs gateway apps/api-gateway/dist/store/entities.js --outbox`. */
export class Init1764000000000 implements MigrationInterface {
  name = 'Init1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const t = (name: string) => qualified(q, name);
    for (const sql of outboxTableSql(schemaOf(q.connection))) await q.query(sql);
    await q.query(`CREATE TABLE ${t('projects')} (
      "id" text NOT NULL,
      "name" text NOT NULL,
      "gpu_quota" integer NOT NULL DEFAULT '4',
      "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_projects" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "UQ_projects_name" ON ${t('projects')} ("name")`);
    await q.query(`CREATE TABLE ${t('tokens')} (
      "id" text NOT NULL,
      "project_id" text NOT NULL,
      "name" text NOT NULL,
      "role" text NOT NULL,
      "label_selector" text,
      "secret_hash" text NOT NULL,
      "version" integer NOT NULL DEFAULT '1',
      "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      CONSTRAINT "PK_tokens" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "UQ_tokens_secret_hash" ON ${t('tokens')} ("secret_hash")`);
    await q.query(`CREATE UNIQUE INDEX "UQ_tokens_project_name" ON ${t('tokens')} ("project_id", "name")`);
    await q.query(`CREATE TABLE ${t('flavors')} (
      "id" text NOT NULL,
      "type" text NOT NULL,
      "is_default" boolean NOT NULL DEFAULT false,
      "description" text NOT NULL,
      "max_units" integer NOT NULL,
      "cpu_per_unit" double precision NOT NULL,
      "memory_per_unit" bigint NOT NULL,
      "ephemeral_storage_per_unit" bigint NOT NULL,
      "public_network_per_unit" bigint NOT NULL,
      "private_network_per_unit" bigint NOT NULL,
      "gpu_brand" text,
      "gpu_model" text,
      "gpu_memory" bigint,
      "unit_price_micros" bigint NOT NULL,
      "currency" text NOT NULL,
      CONSTRAINT "PK_flavors" PRIMARY KEY ("id"))`);
    await q.query(`CREATE TABLE ${t('apps')} (
      "id" text NOT NULL,
      "project_id" text NOT NULL,
      "name" text NOT NULL,
      "created_by" text NOT NULL,
      "spec" jsonb NOT NULL,
      "rate" jsonb NOT NULL,
      "lifecycle" text NOT NULL,
      "desired_version" integer NOT NULL,
      "state" text NOT NULL,
      "info" jsonb NOT NULL,
      "available_replicas" integer NOT NULL DEFAULT '0',
      "history" jsonb NOT NULL,
      "last_transition_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "status_version" integer NOT NULL DEFAULT '0',
      "deleted" boolean NOT NULL DEFAULT false,
      "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      CONSTRAINT "PK_apps" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "IDX_apps_project_created" ON ${t('apps')} ("project_id", "created_at")`);

    await q.query(`INSERT INTO ${t('projects')} ("id", "name") VALUES ('default', 'default')`);
    for (const f of SEED_FLAVORS) {
      await q.query(
        `INSERT INTO ${t('flavors')} ("id", "type", "is_default", "description", "max_units", "cpu_per_unit",
          "memory_per_unit", "ephemeral_storage_per_unit", "public_network_per_unit", "private_network_per_unit",
          "gpu_brand", "gpu_model", "gpu_memory", "unit_price_micros", "currency")
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'EUR')`,
        [
          f.id,
          f.type,
          f.isDefault,
          f.description,
          f.maxUnits,
          f.cpuPerUnit,
          f.memoryPerUnit,
          f.ephemeralStoragePerUnit,
          f.publicNetworkPerUnit,
          f.privateNetworkPerUnit,
          f.gpuBrand,
          f.gpuModel,
          f.gpuMemory,
          f.unitPriceMicros,
        ],
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['apps', 'flavors', 'tokens', 'projects', 'outbox'])
      await q.query(`DROP TABLE ${qualified(q, table)}`);
  }
}
