import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateDataRecords1732500000000 implements MigrationInterface {
  name = 'CreateDataRecords1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS data_records (
        source       text        NOT NULL,
        seq          bigint      NOT NULL,
        "timestamp"  bigint      NOT NULL,
        random_value integer     NOT NULL,
        hash_value   char(2)     NOT NULL,
        received_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT data_records_pkey PRIMARY KEY (source, seq)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS data_records');
  }
}
