import { Injectable } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import type { Readiness } from '@dataflow/observability';
import { BreakerHealthIndicator, CircuitState } from '@dataflow/resilience';
import { FilterLink } from '../delivery/filter-link.service';

/** Ready while connected to the filter with the breaker not open. */
@Injectable()
export class GeneratorReadiness implements Readiness {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly link: FilterLink,
  ) {}

  checks(): HealthIndicatorFunction[] {
    return [
      () => {
        const session = this.indicators.check('filter');
        const details = {
          connected: this.link.connected,
          breaker: CircuitState[this.link.breakerState].toLowerCase(),
          unacknowledged: this.link.unacknowledged,
        };
        return this.link.connected ? session.up(details) : session.down(details);
      },
      () => this.breakers.check(),
    ];
  }
}
