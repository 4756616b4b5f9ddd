import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Automatic apps: the autoscaler's state per app, and the `scaling` KV entry last published for it. */
export class AppScaling1765000000000 implements MigrationInterface {
  name = 'AppScaling1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE ${qualified(q, 'apps')} ADD "scaling" jsonb, ADD "scaling_version" integer NOT NULL DEFAULT 0, ADD "scaling_digest" text NOT NULL DEFAULT ''`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE ${qualified(q, 'apps')} DROP COLUMN "scaling", DROP COLUMN "scaling_version", DROP COLUMN "scaling_digest"`,
    );
  }
}
