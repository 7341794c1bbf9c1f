import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { Logger } from 'nestjs-pino';
import { runApp } from '@dataflow/config';
import { RecordsRmqServer } from '@dataflow/messaging';
import type { MongoWriterConfig } from './config/mongo-writer.config';
import { MongoWriterModule } from './mongo-writer.module';

runApp('mongo-writer', async () => {
  const app = await NestFactory.create(await MongoWriterModule.forRoot(), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  app.connectMicroservice({ strategy: app.get(RecordsRmqServer) }, { inheritAppConfig: true });
  // Initialise first (policies wrapped onto the store by @Resilient, indexes created): consuming
  // starts with startAllMicroservices, and no message may meet an unprotected store.
  await app.init();
  await app.startAllMicroservices();
  const config = app.get<ConfigService<MongoWriterConfig, true>>(ConfigService);
  await app.listen(config.get('MONGO_WRITER_PORT', { infer: true }), '0.0.0.0');
  return app;
});
