export * from './policy-options';
export * from './named-policy';
export * from './policy-registry.service';
export * from './resilient.decorator';
export * from './resilience.aspect';
export * from './breaker-health.indicator';
export * from './resilience.module';
export * from './resilience.tokens';
export { CircuitState, BrokenCircuitError, TaskCancelledError } from 'cockatiel';
