import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { Logger } from 'nestjs-pino';
import { listenHost, runApp } from '@dataflow/config';
import type { GeneratorConfig } from './config/generator.config';
import { GeneratorModule } from './generator.module';

runApp('generator', async () => {
  const app = await NestFactory.create(await GeneratorModule.forRoot(), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  const config = app.get<ConfigService<GeneratorConfig, true>>(ConfigService);
  await app.listen(
    config.get('GENERATOR_PORT', { infer: true }),
    listenHost(config.get('LISTEN_HOST', { infer: true }), config.get('INGEST_TOKEN', { infer: true }) !== undefined),
  );
  return app;
});
