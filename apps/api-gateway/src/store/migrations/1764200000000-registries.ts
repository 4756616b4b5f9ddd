import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Private registries' credentials, per project (generated with scripts/schema-sql.mjs). */
export class Registries1764200000000 implements MigrationInterface {
  name = 'Registries1764200000000';

  async up(q: QueryRunner): Promise<void> {
    const t = qualified(q, 'registries');
    await q.query(`CREATE TABLE ${t} (
      "id" text NOT NULL,
      "project_id" text NOT NULL,
      "url" text NOT NULL,
      "username" text NOT NULL,
      "password_sealed" text NOT NULL,
      "region" text NOT NULL,
      "created_by" text NOT NULL,
      "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL,
      CONSTRAINT "PK_registries" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "UQ_registries_project_url" ON ${t} ("project_id", "url")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ${qualified(q, 'registries')}`);
  }
}
