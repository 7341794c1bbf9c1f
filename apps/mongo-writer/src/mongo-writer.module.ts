import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { MongooseModule } from '@nestjs/mongoose';
import { writerApp } from '@dataflow/messaging';
import { MONGO_WRITER, MongoWriterConfig, mongoWriterEnv } from './config/mongo-writer.config';
import { MONGODB_POLICY } from './storage/mongodb.policy';
import { DATA_DOCUMENT_MODEL, dataDocumentSchema } from './storage/data-document.schema';
import { MongoRecordStore } from './storage/mongo-record.store';

/** The mongo-writer's root module: what it holds is in {@link mongoWriterApp}. */
@Module({})
export class MongoWriterModule {}

export const mongoWriterApp = writerApp<MongoWriterConfig>({
  name: 'mongo-writer',
  module: MongoWriterModule,
  env: mongoWriterEnv,
  prefix: MONGO_WRITER,
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
  sink: 'mongo',
  store: MongoRecordStore,
  policy: MONGODB_POLICY,
  // A server that answers nothing must count as failing: an attempt is given up after this long.
  // It may still land later; every write is conditional on the position it continues, so a late
  // one changes nothing (NestingWriter).
  storePolicy: (c) => ({ timeoutMs: c.get('MONGO_WRITER_WRITE_TIMEOUT_MS', { infer: true }) }),
});
