import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { CircuitState } from '@dataflow/resilience';
import { BreakerHealthIndicator } from '@dataflow/resilience';
import { FilterLink } from '../delivery/filter-link.service';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly link: FilterLink,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
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
    ]);
  }
}
