import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { validateEnv } from '@dataflow/config';
import { RecordsRmqClient } from '@dataflow/messaging';
import { HealthController, ObservabilityModule, READINESS } from '@dataflow/observability';
import { PolicyCatalogue, ResilienceModule } from '@dataflow/resilience';
import { FilterConfig, filterEnv } from './config/filter.config';
import { FilterReadiness } from './health/filter.readiness';
import { ConnectionRegistry } from './ingest/connection-registry.service';
import { IngestRefusals } from './ingest/ingest-refusals.service';
import { IngestGateway } from './ingest/ingest.gateway';
import { IngestService } from './ingest/ingest.service';
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

/** See GeneratorModule: a dynamic module so configuration errors surface as one line. */
@Module({})
export class FilterModule implements NestModule {
  static async forRoot(): Promise<DynamicModule> {
    const config = await ConfigModule.forRoot({ isGlobal: true, cache: true, validate: validateEnv(filterEnv) });
    return {
      module: FilterModule,
      imports: [
        config,
        ObservabilityModule.forRoot({ app: 'filter' }),
        ResilienceModule.forRootAsync({ inject: [ConfigService], useFactory: policies }),
        TerminusModule,
      ],
      controllers: [HealthController, RulesController, TailController],
      providers: [
        { provide: READINESS, useClass: FilterReadiness },
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
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TailCapacityMiddleware).forRoutes('tail');
  }
}
