import { type INestApplication, Module } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { AppDefinition } from '@dataflow/app-shell';
import type { PolicyCatalogue } from '@dataflow/resilience';
import { FilterConfig, filterEnv } from './config/filter.config';
import { FilterOptionsModule } from './config/filter.options';
import { connectRecordsConsumer } from '@dataflow/messaging';
import { FileWriterModule } from './file-writer/file-writer.module';
import { FilterReadiness } from './health/filter.readiness';
import { ConnectionRegistry } from './ingest/connection-registry.service';
import { IngestRefusals } from './ingest/ingest-refusals.service';
import { IngestWsAdapter } from './ingest/ingest-ws.adapter';
import { INGEST_OPTIONS, type IngestOptions } from './ingest/ingest.options';
import { IngestModule } from './ingest/ingest.module';
import { OperatorModule } from './operator/operator.module';
import { PipelineModule } from './pipeline/pipeline.module';
import { RefusalLog } from './refusals/refusal-log';
import { RefusalsModule } from './refusals/refusals.module';
import { RoutingModule } from './routing/routing.module';
import { FILESYSTEM_POLICY } from './sinks/file-sink.service';
import { RABBITMQ_POLICY } from './sinks/queue-sink.service';
import { SinksModule } from './sinks/sinks.module';

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

/**
 * The filter's root module: its features are modules of their own (each with the options it
 * declares), from the ground up: refusals, sinks, routing, operator endpoints, pipeline, ingest,
 * and the file writer.
 */
@Module({})
export class FilterModule {}

/**
 * `/ingest` is served by the filter's own WebSocket adapter: its caps apply before Nest sees a frame.
 * The file writer's consumer (partitioned topology; see FileWriterModule) starts after init.
 */
function configure(nest: INestApplication): void {
  connectRecordsConsumer(nest);
  nest.useWebSocketAdapter(
    new IngestWsAdapter(
      nest,
      nest.get<IngestOptions>(INGEST_OPTIONS),
      nest.get(ConnectionRegistry),
      nest.get(IngestRefusals),
      nest.get(RefusalLog),
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
  imports: [
    FilterOptionsModule,
    RefusalsModule,
    SinksModule,
    RoutingModule,
    OperatorModule,
    PipelineModule,
    IngestModule,
    FileWriterModule,
  ],
  configure,
};
