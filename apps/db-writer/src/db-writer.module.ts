import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { validateEnv } from '@dataflow/config';
import { POSTGRES_QUEUE } from '@dataflow/contracts';
import { prefetchFor, RecordsConsumer, writerProviders } from '@dataflow/messaging';
import { HealthController, ObservabilityModule } from '@dataflow/observability';
import { PolicyCatalogue, ResilienceModule } from '@dataflow/resilience';
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

/** See GeneratorModule: a dynamic module so configuration errors surface as one line. */
@Module({})
export class DbWriterModule {
  static async forRoot(): Promise<DynamicModule> {
    const config = await ConfigModule.forRoot({ isGlobal: true, cache: true, validate: validateEnv(dbWriterEnv) });
    return {
      module: DbWriterModule,
      imports: [
        config,
        ObservabilityModule.forRoot({ app: 'db-writer' }),
        ResilienceModule.forRootAsync({ inject: [ConfigService], useFactory: policies }),
        TerminusModule,
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
      controllers: [HealthController, RecordsConsumer],
      providers: writerProviders(PostgresRecordStore, (c: ConfigService<DbWriterConfig, true>) => ({
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
      })),
    };
  }
}
