import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each app keeps the runtime spec it ran before its current one, for rollbacks; existing apps have none. */
export class PreviousRuntime1765100000000 implements MigrationInterface {
  name = 'PreviousRuntime1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'apps')} ADD "previous_runtime" jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'apps')} DROP COLUMN "previous_runtime"`);
  }
}
