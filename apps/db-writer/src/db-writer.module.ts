import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { POSTGRES_QUEUE } from '@dataflow/contracts';
import { prefetchFor, writerApp } from '@dataflow/messaging';
import type { PolicyCatalogue } from '@dataflow/resilience';
import { DbWriterConfig, dbWriterEnv } from './config/db-writer.config';
import { POSTGRES_POLICY } from './storage/postgres.policy';
import { DataRecordEntity } from './storage/data-record.entity';
import { CreateDataRecords1732500000000 } from './storage/migrations/1732500000000-create-data-records';
import { isPermanentPgError } from './storage/pg-errors';
import { PostgresRecordStore } from './storage/postgres-record.store';

function policies(config: ConfigService<DbWriterConfig, true>): PolicyCatalogue {
  return {
    [POSTGRES_POLICY]: {
      // Retried until it works: the messages are held unacknowledged meanwhile, never dropped.
      retry: {
        maxAttempts: Number.POSITIVE_INFINITY,
        initialDelayMs: 100,
        maxDelayMs: config.get('DB_WRITER_RETRY_MAX_MS', { infer: true }),
        whileOpen: true,
      },
      breaker: {
        consecutiveFailures: config.get('DB_WRITER_BREAKER_FAILURES', { infer: true }),
        halfOpenAfterMs: config.get('DB_WRITER_BREAKER_HALF_OPEN_MS', { infer: true }),
      },
      isFailure: (error) => !isPermanentPgError(error),
    },
  };
}

/** The db-writer's root module: what it holds is in {@link dbWriterApp}. */
@Module({})
export class DbWriterModule {}

export const dbWriterApp = writerApp<DbWriterConfig>({
  name: 'db-writer',
  module: DbWriterModule,
  env: dbWriterEnv,
  policies,
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
  store: PostgresRecordStore,
  settings: (c: ConfigService<DbWriterConfig, true>) => ({
    rabbitmqUrl: c.get('RABBITMQ_URL', { infer: true }),
    queue: POSTGRES_QUEUE,
    prefetch: prefetchFor(
      c.get('DB_WRITER_MAX_HELD_RECORDS', { infer: true }),
      c.get('DB_WRITER_PREFETCH', { infer: true }),
    ),
    policy: POSTGRES_POLICY,
    batchSize: c.get('DB_WRITER_BATCH_SIZE', { infer: true }),
    batchMs: c.get('DB_WRITER_BATCH_MS', { infer: true }),
    shutdownTimeoutMs: c.get('SHUTDOWN_TIMEOUT_SECONDS', { infer: true }) * 1000,
  }),
});
