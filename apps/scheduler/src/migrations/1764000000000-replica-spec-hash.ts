import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each replica records the runtime-spec hash it runs (rolling updates); older rows stay NULL (kept). */
export class ReplicaSpecHash1764000000000 implements MigrationInterface {
  name = 'ReplicaSpecHash1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'replicas')} ADD "spec_hash" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'replicas')} DROP COLUMN "spec_hash"`);
  }
}
