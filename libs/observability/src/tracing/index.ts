// Spans are made by `@Traced` only (see traced.ts); the rest is set-up and context propagation.
export { startTracing, injectTraceContext, extractTraceContext, activeTraceIds, type TracingHandle } from './tracing';
export * from './traced';
