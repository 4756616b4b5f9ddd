import { outboxTableSql, qualified, schemaOf } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Generated with `node scripts/schema-sql.mjs scheduler apps/scheduler/dist/store/entities.js --outbox`. */
export class Init1763900000000 implements MigrationInterface {
  name = 'Init1763900000000';

  async up(q: QueryRunner): Promise<void> {
    const t = (name: string) => qualified(q, name);
    for (const sql of outboxTableSql(schemaOf(q.connection))) await q.query(sql);
    await q.query(`CREATE TABLE ${t('nodes')} (
      "id" text NOT NULL,
      "address" text NOT NULL,
      "capacity" jsonb NOT NULL,
      "labels" jsonb NOT NULL DEFAULT '{}',
      "simulated_gpus" boolean NOT NULL DEFAULT false,
      "last_heartbeat_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "health" text NOT NULL DEFAULT 'READY',
      "schedulable" boolean NOT NULL DEFAULT true,
      "generation" integer NOT NULL DEFAULT '0',
      "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_nodes" PRIMARY KEY ("id"))`);
    await q.query(`CREATE TABLE ${t('apps')} (
      "id" text NOT NULL,
      "project_id" text NOT NULL,
      "desired_version" integer NOT NULL,
      "lifecycle" text NOT NULL,
      "spec" jsonb NOT NULL,
      "rate" jsonb NOT NULL,
      "state" text NOT NULL,
      "info" jsonb NOT NULL,
      "history" jsonb NOT NULL,
      "status_version" integer NOT NULL,
      "available_replicas" integer NOT NULL DEFAULT '0',
      "allocated_units" integer NOT NULL DEFAULT '0',
      "last_transition_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "route_version" integer NOT NULL DEFAULT '0',
      "route_digest" text NOT NULL DEFAULT '',
      "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_apps" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "IDX_apps_state" ON ${t('apps')} ("state")`);
    await q.query(`CREATE TABLE ${t('replicas')} (
      "id" text NOT NULL,
      "app_id" text NOT NULL,
      "node_id" text NOT NULL,
      "spec_version" integer NOT NULL,
      "desired" text NOT NULL,
      "cpu" double precision NOT NULL,
      "memory" bigint NOT NULL,
      "units" integer NOT NULL,
      "gpus" jsonb NOT NULL,
      "assignment" jsonb NOT NULL,
      "phase" text NOT NULL,
      "ever_ready" boolean NOT NULL DEFAULT false,
      "restarts" integer NOT NULL DEFAULT '0',
      "exit_code" integer,
      "reason" text,
      "message" text,
      "endpoint" jsonb,
      "report_seq" bigint NOT NULL DEFAULT '0',
      "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_replicas" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "IDX_replicas_app" ON ${t('replicas')} ("app_id")`);
    await q.query(`CREATE INDEX "IDX_replicas_node" ON ${t('replicas')} ("node_id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['replicas', 'apps', 'nodes', 'outbox'])
      await q.query(`DROP TABLE ${qualified(q, table)}`);
  }
}
