import { type INestApplication, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppDefinition } from '@dataflow/app-shell';
import { RecordsRmqClient } from '@dataflow/messaging';
import type { PolicyCatalogue } from '@dataflow/resilience';
import { FilterConfig, filterEnv } from './config/filter.config';
import { FilterReadiness } from './health/filter.readiness';
import { ConnectionRegistry } from './ingest/connection-registry.service';
import { IngestRefusals } from './ingest/ingest-refusals.service';
import { IngestGateway } from './ingest/ingest.gateway';
import { IngestService } from './ingest/ingest.service';
import { IngestWsAdapter } from './ingest/ingest-ws.adapter';
import { INGEST_OPTIONS, type IngestOptions } from './ingest/ingest.options';
import { filterOptionProviders } from './config/filter.options';
import { RecordPipeline } from './pipeline/record-pipeline.service';
import { AdminTokenGuard } from './admin/admin-token.guard';
import { RulesController } from './routing/rules.controller';
import { RulesService } from './routing/rules.service';
import { TailCapacityMiddleware } from './tail/tail-capacity.middleware';
import { TailController } from './tail/tail.controller';
import { TailService } from './tail/tail.service';
import { FILESYSTEM_POLICY, FileSink } from './sinks/file-sink.service';
import { QueueSink, RABBITMQ_POLICY } from './sinks/queue-sink.service';

function policies(config: ConfigService<FilterConfig, true>): PolicyCatalogue {
  const breaker = {
    consecutiveFailures: config.get('FILTER_BREAKER_FAILURES', { infer: true }),
    halfOpenAfterMs: config.get('FILTER_BREAKER_HALF_OPEN_MS', { infer: true }),
  };
  return {
    // The channel's own publish timeout fails an unconfirmed publish; this one is the backstop.
    [RABBITMQ_POLICY]: { breaker, timeoutMs: config.get('FILTER_PUBLISH_TIMEOUT_MS', { infer: true }) + 1000 },
    // No timeout for file writes: an abandoned write could still land after being reported failed.
    [FILESYSTEM_POLICY]: { breaker },
  };
}

/** The filter's root module: what it holds is in {@link filterApp}; the `/tail` capacity middleware here. */
@Module({})
export class FilterModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TailCapacityMiddleware).forRoutes('tail');
  }
}

/** `/ingest` is served by the filter's own WebSocket adapter: its caps apply before Nest sees a frame. */
function useIngestAdapter(nest: INestApplication): void {
  nest.useWebSocketAdapter(
    new IngestWsAdapter(
      nest,
      nest.get<IngestOptions>(INGEST_OPTIONS),
      nest.get(ConnectionRegistry),
      nest.get(IngestRefusals),
    ),
  );
}

export const filterApp: AppDefinition<FilterConfig> = {
  name: 'filter',
  module: FilterModule,
  env: filterEnv,
  policies,
  readiness: FilterReadiness,
  portVariable: 'FILTER_PORT',
  tokenVariables: ['INGEST_TOKEN', 'FILTER_ADMIN_TOKEN'],
  controllers: [RulesController, TailController],
  providers: [
    ...filterOptionProviders,
    {
      provide: RecordsRmqClient,
      inject: [ConfigService],
      useFactory: (c: ConfigService<FilterConfig, true>) =>
        new RecordsRmqClient({
          url: c.get('RABBITMQ_URL', { infer: true }),
          publishTimeoutMs: c.get('FILTER_PUBLISH_TIMEOUT_MS', { infer: true }),
        }),
    },
    RulesService,
    TailService,
    AdminTokenGuard,
    QueueSink,
    FileSink,
    RecordPipeline,
    IngestRefusals,
    ConnectionRegistry,
    IngestService,
    IngestGateway,
  ],
  configure: useIngestAdapter,
};
