import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { MongooseModule } from '@nestjs/mongoose';
import { MONGO_QUEUE } from '@dataflow/contracts';
import { prefetchFor, writerApp } from '@dataflow/messaging';
import type { PolicyCatalogue } from '@dataflow/resilience';
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

/** The mongo-writer's root module: what it holds is in {@link mongoWriterApp}. */
@Module({})
export class MongoWriterModule {}

export const mongoWriterApp = writerApp<MongoWriterConfig>({
  name: 'mongo-writer',
  module: MongoWriterModule,
  env: mongoWriterEnv,
  policies,
  portVariable: 'MONGO_WRITER_PORT',
  imports: [
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
  store: MongoRecordStore,
  settings: (c: ConfigService<MongoWriterConfig, true>) => ({
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
  }),
});
