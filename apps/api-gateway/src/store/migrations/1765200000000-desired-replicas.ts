import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each app's status keeps the replica count it works towards (fixed, or the autoscaler's); unknown until said. */
export class DesiredReplicas1765200000000 implements MigrationInterface {
  name = 'DesiredReplicas1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'apps')} ADD "desired_replicas" integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'apps')} DROP COLUMN "desired_replicas"`);
  }
}
