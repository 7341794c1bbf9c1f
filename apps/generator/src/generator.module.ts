import { Module } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { AppDefinition } from '@dataflow/app-shell';
import type { PolicyCatalogue } from '@dataflow/resilience';
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

/** The generator's root module: what it holds is in {@link generatorApp}. */
@Module({})
export class GeneratorModule {}

export const generatorApp: AppDefinition<GeneratorConfig> = {
  name: 'generator',
  module: GeneratorModule,
  env: generatorEnv,
  policies,
  readiness: GeneratorReadiness,
  portVariable: 'GENERATOR_PORT',
  tokenVariables: ['INGEST_TOKEN'],
  providers: [SeqStore, FilterLink, GeneratorService],
};
