import { outboxTableSql, qualified, schemaOf } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Generated with `node scripts/schema-sql.mjs billing apps/billing-meter/dist/store/entities.js --outbox`. */
export class Init1764000000000 implements MigrationInterface {
  name = 'Init1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const t = (name: string) => qualified(q, name);
    for (const sql of outboxTableSql(schemaOf(q.connection))) await q.query(sql);
    await q.query(`CREATE TABLE ${t('status_points')} (
      "app_id" text NOT NULL,
      "event_id" text NOT NULL,
      "project_id" text NOT NULL,
      "version" integer NOT NULL,
      "at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "state" text NOT NULL,
      "allocated_units" integer NOT NULL,
      "flavor" text NOT NULL,
      "unit_price_micros" bigint NOT NULL,
      "currency" text NOT NULL,
      "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_status_points" PRIMARY KEY ("app_id", "event_id"))`);
    await q.query(`CREATE INDEX "IDX_status_points_app_at" ON ${t('status_points')} ("app_id", "at")`);
    await q.query(
      `CREATE INDEX "IDX_status_points_project_app" ON ${t('status_points')} ("project_id", "app_id")`,
    );
    await q.query(`CREATE TABLE ${t('app_ledgers')} (
      "app_id" text NOT NULL,
      "last_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "last_version" integer NOT NULL,
      "last_event_id" text NOT NULL,
      "last_billed" boolean NOT NULL,
      "closed_through" TIMESTAMP WITH TIME ZONE,
      "anchor_at" TIMESTAMP WITH TIME ZONE,
      CONSTRAINT "PK_app_ledgers" PRIMARY KEY ("app_id"))`);
    await q.query(`CREATE TABLE ${t('usage_periods')} (
      "run_id" text NOT NULL,
      "period_index" integer NOT NULL,
      "app_id" text NOT NULL,
      "project_id" text NOT NULL,
      "start_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "end_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "quantity" integer NOT NULL,
      "flavor" text NOT NULL,
      "unit_price_micros" bigint NOT NULL,
      "currency" text NOT NULL,
      "charge_micros" bigint NOT NULL,
      "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_usage_periods" PRIMARY KEY ("run_id", "period_index"))`);
    await q.query(
      `CREATE INDEX "IDX_usage_periods_app_start" ON ${t('usage_periods')} ("app_id", "start_at")`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['usage_periods', 'app_ledgers', 'status_points', 'outbox'])
      await q.query(`DROP TABLE ${qualified(q, table)}`);
  }
}
