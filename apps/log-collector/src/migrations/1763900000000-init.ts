import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1763900000000 implements MigrationInterface {
  name = 'Init1763900000000';

  async up(q: QueryRunner): Promise<void> {
    const t = (name: string) => qualified(q, name);
    await q.query(`CREATE TABLE ${t('log_lines')} (
      "id" BIGSERIAL NOT NULL,
      "app_id" text NOT NULL,
      "replica_id" text NOT NULL,
      "node_id" text NOT NULL,
      "ts" text NOT NULL,
      "stream" text NOT NULL,
      "line" text NOT NULL,
      CONSTRAINT "PK_log_lines" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "IDX_log_lines_app_ts" ON ${t('log_lines')} ("app_id", "ts")`);
    await q.query(`CREATE TABLE ${t('log_batches')} (
      "id" text NOT NULL,
      "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_log_batches" PRIMARY KEY ("id"))`);
    await q.query(`CREATE TABLE ${t('app_events')} (
      "id" text NOT NULL,
      "app_id" text NOT NULL,
      "project_id" text NOT NULL,
      "at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "source" text NOT NULL,
      "type" text NOT NULL,
      "reason" text NOT NULL,
      "message" text NOT NULL,
      "replica_id" text,
      "node_id" text,
      CONSTRAINT "PK_app_events" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "IDX_app_events_app_at" ON ${t('app_events')} ("app_id", "at")`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['app_events', 'log_batches', 'log_lines'])
      await q.query(`DROP TABLE ${qualified(q, table)}`);
  }
}
