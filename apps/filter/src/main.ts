import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { Logger } from 'nestjs-pino';
import { listenHost, runApp } from '@dataflow/config';
import type { FilterConfig } from './config/filter.config';
import { FilterModule } from './filter.module';
import { ConnectionRegistry } from './ingest/connection-registry.service';
import { IngestRefusals } from './ingest/ingest-refusals.service';
import { IngestWsAdapter } from './ingest/ingest-ws.adapter';

runApp('filter', async () => {
  const app = await NestFactory.create(await FilterModule.forRoot(), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  const config = app.get<ConfigService<FilterConfig, true>>(ConfigService);
  app.useWebSocketAdapter(
    new IngestWsAdapter(
      app,
      {
        token: config.get('INGEST_TOKEN', { infer: true }),
        maxConnections: config.get('INGEST_MAX_CONNECTIONS', { infer: true }),
        maxNewConnectionsPerSecond: config.get('INGEST_MAX_NEW_CONNECTIONS_PER_SECOND', { infer: true }),
        maxDepth: config.get('INGEST_MAX_JSON_DEPTH', { infer: true }),
      },
      app.get(ConnectionRegistry),
      app.get(IngestRefusals),
    ),
  );
  const tokensSet =
    config.get('INGEST_TOKEN', { infer: true }) !== undefined &&
    config.get('FILTER_ADMIN_TOKEN', { infer: true }) !== undefined;
  await app.listen(
    config.get('FILTER_PORT', { infer: true }),
    listenHost(config.get('LISTEN_HOST', { infer: true }), tokensSet),
  );
  return app;
});
