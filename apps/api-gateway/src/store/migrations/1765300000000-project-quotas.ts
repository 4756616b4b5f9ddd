import { qualified } from '@gantry/database';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Quotas per project beside GPUs: CPUs, memory (bytes), apps and tokens, each with its default for
 * the projects there are (the gateway integration spec checks it against the entities).
 */
export class ProjectQuotas1765300000000 implements MigrationInterface {
  name = 'ProjectQuotas1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'projects')}
      ADD "cpu_quota" integer NOT NULL DEFAULT '32',
      ADD "memory_quota" bigint NOT NULL DEFAULT '137438953472',
      ADD "app_quota" integer NOT NULL DEFAULT '50',
      ADD "token_quota" integer NOT NULL DEFAULT '100'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualified(q, 'projects')}
      DROP COLUMN "cpu_quota", DROP COLUMN "memory_quota", DROP COLUMN "app_quota", DROP COLUMN "token_quota"`);
  }
}
