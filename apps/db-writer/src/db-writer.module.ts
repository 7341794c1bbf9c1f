import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { writerApp } from '@dataflow/messaging';
import { DB_WRITER, DbWriterConfig, dbWriterEnv } from './config/db-writer.config';
import { POSTGRES_POLICY } from './storage/postgres.policy';
import { DataRecordEntity } from './storage/data-record.entity';
import { CreateDataRecords1732500000000 } from './storage/migrations/1732500000000-create-data-records';
import { isPermanentPgError } from './storage/pg-errors';
import { PostgresRecordStore } from './storage/postgres-record.store';

/** The db-writer's root module: what it holds is in {@link dbWriterApp}. */
@Module({})
export class DbWriterModule {}

export const dbWriterApp = writerApp<DbWriterConfig>({
  name: 'db-writer',
  module: DbWriterModule,
  env: dbWriterEnv,
  prefix: DB_WRITER,
  portVariable: 'DB_WRITER_PORT',
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (c: ConfigService<DbWriterConfig, true>) => ({
        type: 'postgres' as const,
        url: c.get('DATABASE_URL', { infer: true }),
        entities: [DataRecordEntity],
        migrations: [CreateDataRecords1732500000000],
        migrationsRun: true,
        synchronize: false,
        // Keep trying at start-up while PostgreSQL is not there yet (compose, Kubernetes).
        retryAttempts: Number.MAX_SAFE_INTEGER,
        retryDelay: 2000,
        extra: {
          max: c.get('DB_WRITER_POOL_SIZE', { infer: true }),
          statement_timeout: c.get('DB_WRITER_STATEMENT_TIMEOUT_MS', { infer: true }),
          connectionTimeoutMillis: 5000,
        },
      }),
    }),
  ],
  sink: 'postgres',
  store: PostgresRecordStore,
  policy: POSTGRES_POLICY,
  // Constraint and data errors (SQLSTATE 22, 23) are the data's fault: not retried, not counted.
  storePolicy: () => ({ isFailure: (error) => !isPermanentPgError(error) }),
});
