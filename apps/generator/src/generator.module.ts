import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { validateEnv } from '@dataflow/config';
import { HealthController, ObservabilityModule, READINESS } from '@dataflow/observability';
import { PolicyCatalogue, ResilienceModule } from '@dataflow/resilience';
import { GeneratorConfig, generatorEnv } from './config/generator.config';
import { FILTER_POLICY, FilterLink } from './delivery/filter-link.service';
import { GeneratorService } from './generation/generator.service';
import { SeqStore } from './generation/seq-store.service';
import { GeneratorReadiness } from './health/generator.readiness';

function policies(config: ConfigService<GeneratorConfig, true>): PolicyCatalogue {
  return {
    [FILTER_POLICY]: {
      timeoutMs: config.get('GENERATOR_ACK_TIMEOUT_MS', { infer: true }),
      breaker: {
        consecutiveFailures: config.get('GENERATOR_BREAKER_FAILURES', { infer: true }),
        halfOpenAfterMs: config.get('GENERATOR_BREAKER_HALF_OPEN_MS', { infer: true }),
      },
    },
  };
}

/**
 * A dynamic module so the environment is validated when `forRoot()` runs inside the bootstrap
 * (where a bad value becomes one clear line), not while the file is being imported.
 */
@Module({})
export class GeneratorModule {
  static async forRoot(): Promise<DynamicModule> {
    const config = await ConfigModule.forRoot({ isGlobal: true, cache: true, validate: validateEnv(generatorEnv) });
    return {
      module: GeneratorModule,
      imports: [
        config,
        ObservabilityModule.forRoot({ app: 'generator' }),
        ResilienceModule.forRootAsync({ inject: [ConfigService], useFactory: policies }),
        TerminusModule,
      ],
      controllers: [HealthController],
      providers: [{ provide: READINESS, useClass: GeneratorReadiness }, SeqStore, FilterLink, GeneratorService],
    };
  }
}
