import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The records table under `name` (the benchmark's raw stage makes one just like it). */
export function createRecordsTableSql(name: string): string {
  return `
      CREATE TABLE IF NOT EXISTS ${name} (
        source       text        NOT NULL,
        seq          bigint      NOT NULL,
        "timestamp"  bigint      NOT NULL,
        random_value integer     NOT NULL,
        hash_value   char(2)     NOT NULL,
        received_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ${name}_pkey PRIMARY KEY (source, seq)
      )`;
}

export class CreateDataRecords1732500000000 implements MigrationInterface {
  name = 'CreateDataRecords1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(createRecordsTableSql('data_records'));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS data_records');
  }
}
