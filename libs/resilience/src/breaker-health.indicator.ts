import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { CircuitState } from 'cockatiel';
import { PolicyRegistry } from './policy-registry.service';

/** Readiness: down while any breaker is open, with every breaker's state in the details. */
@Injectable()
export class BreakerHealthIndicator {
  constructor(
    private readonly registry: PolicyRegistry,
    private readonly health: HealthIndicatorService,
  ) {}

  check(key = 'breakers'): HealthIndicatorResult {
    const session = this.health.check(key);
    const states: Record<string, string> = {};
    let open = false;
    for (const policy of this.registry.all()) {
      if (!policy.breaker) continue;
      states[policy.name] = CircuitState[policy.state].toLowerCase();
      open ||= policy.isOpen;
    }
    return open ? session.down(states) : session.up(states);
  }
}
