import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NodeDraining1763950000000 implements MigrationInterface {
  name = 'NodeDraining1763950000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'nodes')} ADD "draining" boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'nodes')} DROP COLUMN "draining"`);
  }
}
