import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { Logger } from 'nestjs-pino';
import { runApp } from '@dataflow/config';
import { RecordsRmqServer } from '@dataflow/messaging';
import type { DbWriterConfig } from './config/db-writer.config';
import { DbWriterModule } from './db-writer.module';

runApp('db-writer', async () => {
  const app = await NestFactory.create(await DbWriterModule.forRoot(), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  app.connectMicroservice({ strategy: app.get(RecordsRmqServer) }, { inheritAppConfig: true });
  // Initialise first (policies wrapped onto the store by @Resilient, indexes created): consuming
  // starts with startAllMicroservices, and no message may meet an unprotected store.
  await app.init();
  await app.startAllMicroservices();
  const config = app.get<ConfigService<DbWriterConfig, true>>(ConfigService);
  await app.listen(config.get('DB_WRITER_PORT', { infer: true }), '0.0.0.0');
  return app;
});
