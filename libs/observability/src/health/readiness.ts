import type { HealthIndicatorFunction } from '@nestjs/terminus';

/** What `/health/ready` checks in this app: each app provides one under {@link READINESS}. */
export interface Readiness {
  checks(): HealthIndicatorFunction[];
}

export const READINESS = Symbol('READINESS');
