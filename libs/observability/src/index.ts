export * from './metric-names';
export * from './dataflow-metrics';
export * from './metrics.providers';
export * from './observability.module';
export * from './observability.tokens';
export * from './logging.interceptor';
export * from './redact';
