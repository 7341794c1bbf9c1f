import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { MongooseModule } from '@nestjs/mongoose';
import { TerminusModule } from '@nestjs/terminus';
import { validateEnv } from '@dataflow/config';
import { MONGO_QUEUE } from '@dataflow/contracts';
import { prefetchFor, RecordsConsumer, writerProviders } from '@dataflow/messaging';
import { HealthController, ObservabilityModule } from '@dataflow/observability';
import { PolicyCatalogue, ResilienceModule } from '@dataflow/resilience';
import { MongoWriterConfig, mongoWriterEnv } from './config/mongo-writer.config';
import { MONGODB_POLICY } from './storage/mongodb.policy';
import { DATA_DOCUMENT_MODEL, dataDocumentSchema } from './storage/data-document.schema';
import { MongoRecordStore } from './storage/mongo-record.store';

function policies(config: ConfigService<MongoWriterConfig, true>): PolicyCatalogue {
  return {
    [MONGODB_POLICY]: {
      // Retried until it works or the breaker opens (then the messages go back to the queue and
      // the writer pauses until MongoDB answers: see RecordWriter).
      retry: {
        maxAttempts: Number.POSITIVE_INFINITY,
        initialDelayMs: 100,
        maxDelayMs: config.get('MONGO_WRITER_RETRY_MAX_MS', { infer: true }),
        whileOpen: true,
      },
      breaker: {
        consecutiveFailures: config.get('MONGO_WRITER_BREAKER_FAILURES', { infer: true }),
        halfOpenAfterMs: config.get('MONGO_WRITER_BREAKER_HALF_OPEN_MS', { infer: true }),
      },
      // A server that answers nothing must count as failing: an attempt is given up after this
      // long. It may still land later; every write is conditional on the position it continues,
      // so a late one changes nothing (NestingWriter).
      timeoutMs: config.get('MONGO_WRITER_WRITE_TIMEOUT_MS', { infer: true }),
    },
  };
}

/** See GeneratorModule: a dynamic module so configuration errors surface as one line. */
@Module({})
export class MongoWriterModule {
  static async forRoot(): Promise<DynamicModule> {
    const config = await ConfigModule.forRoot({ isGlobal: true, cache: true, validate: validateEnv(mongoWriterEnv) });
    return {
      module: MongoWriterModule,
      imports: [
        config,
        ObservabilityModule.forRoot({ app: 'mongo-writer' }),
        ResilienceModule.forRootAsync({ inject: [ConfigService], useFactory: policies }),
        TerminusModule,
        MongooseModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (c: ConfigService<MongoWriterConfig, true>) => ({
            uri: c.get('MONGODB_URL', { infer: true }),
            serverSelectionTimeoutMS: 5000,
            // Keep trying at start-up while MongoDB is not there yet (compose, Kubernetes).
            retryAttempts: Number.MAX_SAFE_INTEGER,
            retryDelay: 2000,
            // Commands fail fast while the server is away; the policy retries them.
            bufferCommands: false,
            // A socket that stays silent this long is dropped (a hung server), not waited on forever.
            socketTimeoutMS: c.get('MONGO_WRITER_WRITE_TIMEOUT_MS', { infer: true }) * 2,
          }),
        }),
        MongooseModule.forFeature([{ name: DATA_DOCUMENT_MODEL, schema: dataDocumentSchema }]),
      ],
      controllers: [HealthController, RecordsConsumer],
      providers: writerProviders(MongoRecordStore, (c: ConfigService<MongoWriterConfig, true>) => ({
        rabbitmqUrl: c.get('RABBITMQ_URL', { infer: true }),
        queue: MONGO_QUEUE,
        prefetch: prefetchFor(
          c.get('MONGO_WRITER_MAX_HELD_RECORDS', { infer: true }),
          c.get('MONGO_WRITER_PREFETCH', { infer: true }),
        ),
        policy: MONGODB_POLICY,
        batchSize: c.get('MONGO_WRITER_BATCH_SIZE', { infer: true }),
        batchMs: c.get('MONGO_WRITER_BATCH_MS', { infer: true }),
        shutdownTimeoutMs: c.get('SHUTDOWN_TIMEOUT_SECONDS', { infer: true }) * 1000,
      })),
    };
  }
}
