import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * App events keep the order they arrived in: events of one scheduler pass share their time, and
 * their ids (random) say nothing of their order.
 */
export class AppEventOrder1764100000000 implements MigrationInterface {
  name = 'AppEventOrder1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'app_events')} ADD "seq" BIGSERIAL NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'app_events')} DROP COLUMN "seq"`);
  }
}
