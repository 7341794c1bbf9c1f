import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { MongooseModule } from '@nestjs/mongoose';
import { TerminusModule } from '@nestjs/terminus';
import { validateEnv } from '@dataflow/config';
import { MONGO_QUEUE } from '@dataflow/contracts';
import { RECORD_STORE, RecordsConsumer, RecordsRmqServer, RecordWriter, WriterReadiness } from '@dataflow/messaging';
import { DataflowMetrics, HealthController, ObservabilityModule, READINESS } from '@dataflow/observability';
import { PolicyCatalogue, PolicyRegistry, ResilienceModule } from '@dataflow/resilience';
import { MongoWriterConfig, mongoWriterEnv } from './config/mongo-writer.config';
import { MONGODB_POLICY } from './storage/mongodb.policy';
import { DATA_DOCUMENT_MODEL, dataDocumentSchema } from './storage/data-document.schema';
import { MongoRecordStore } from './storage/mongo-record.store';

function policies(config: ConfigService<MongoWriterConfig, true>): PolicyCatalogue {
  return {
    [MONGODB_POLICY]: {
      // Retried until it works: the messages are held unacknowledged meanwhile, never dropped.
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
          }),
        }),
        MongooseModule.forFeature([{ name: DATA_DOCUMENT_MODEL, schema: dataDocumentSchema }]),
      ],
      controllers: [HealthController, RecordsConsumer],
      providers: [
        { provide: READINESS, useClass: WriterReadiness },
        {
          provide: RecordsRmqServer,
          inject: [ConfigService, DataflowMetrics],
          useFactory: (c: ConfigService<MongoWriterConfig, true>, metrics: DataflowMetrics) =>
            new RecordsRmqServer({
              url: c.get('RABBITMQ_URL', { infer: true }),
              queue: MONGO_QUEUE,
              prefetch: c.get('MONGO_WRITER_PREFETCH', { infer: true }),
              onDeadLetter: (reason) => metrics.recordRejected(reason),
            }),
        },
        MongoRecordStore,
        { provide: RECORD_STORE, useExisting: MongoRecordStore },
        {
          provide: RecordWriter,
          inject: [ConfigService, RecordsRmqServer, PolicyRegistry, MongoRecordStore, DataflowMetrics],
          useFactory: (
            c: ConfigService<MongoWriterConfig, true>,
            server: RecordsRmqServer,
            registry: PolicyRegistry,
            store: MongoRecordStore,
            metrics: DataflowMetrics,
          ) =>
            new RecordWriter(server, registry.get(MONGODB_POLICY), store, metrics, {
              batchSize: c.get('MONGO_WRITER_BATCH_SIZE', { infer: true }),
              batchMs: c.get('MONGO_WRITER_BATCH_MS', { infer: true }),
              shutdownTimeoutMs: c.get('SHUTDOWN_TIMEOUT_SECONDS', { infer: true }) * 1000,
            }),
        },
      ],
    };
  }
}
