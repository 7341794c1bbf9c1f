import { DynamicModule, Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { BreakerHealthIndicator } from './breaker-health.indicator';
import { PolicyRegistry } from './policy-registry.service';
import type { PolicyCatalogue } from './policy-options';
import { ResilienceAspect } from './resilience.aspect';
import { POLICY_CATALOGUE } from './resilience.tokens';

export interface ResilienceModuleOptions {
  /** Builds the app's policies, usually from its validated configuration. */
  readonly useFactory: (...deps: never[]) => PolicyCatalogue;
  readonly inject?: readonly unknown[];
}

@Global()
@Module({})
export class ResilienceModule {
  static forRootAsync(options: ResilienceModuleOptions): DynamicModule {
    return {
      module: ResilienceModule,
      imports: [TerminusModule],
      providers: [
        {
          provide: POLICY_CATALOGUE,
          useFactory: options.useFactory as (...deps: unknown[]) => PolicyCatalogue,
          inject: [...(options.inject ?? [])] as never[],
        },
        PolicyRegistry,
        ResilienceAspect,
        BreakerHealthIndicator,
      ],
      exports: [PolicyRegistry, BreakerHealthIndicator],
    };
  }
}
