import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, Link, Span, SpanOptions, TextMapGetter } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { createTracerProvider } from './tracer-provider';
import { readTracingSettings } from './tracing-settings';

/**
 * OpenTelemetry tracing, configured only by the standard variables (parsed and checked in
 * `tracing-settings.ts`):
 *
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`: spans are exported there
 *   (OTLP over HTTP). Without either, nothing is exported and nothing fails.
 * - `OTEL_TRACES_EXPORTER`: `otlp` (default), `console`, `none`, or a comma-separated list.
 * - `OTEL_SERVICE_NAME` (default: the app's name), `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`,
 *   `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BSP_MAX_QUEUE_SIZE`,
 *   `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
 * - `OTEL_SDK_DISABLED=true`: no tracer at all (no trace ids in logs either).
 *
 * Trace context is created and propagated even when nothing is exported: the W3C trace id of a
 * frame is the correlation id in every log line about its records, from the generator to both
 * writers. Spans are per frame, hand-off, message and store batch, never per record.
 */
export interface TracingHandle {
  readonly enabled: boolean;
  readonly exporting: boolean;
  shutdown(): Promise<void>;
}

let handle: TracingHandle | undefined;

export function startTracing(app: string, env: NodeJS.ProcessEnv = process.env): TracingHandle {
  if (handle) return handle;
  const settings = readTracingSettings(app, env);
  if (settings.disabled) {
    handle = { enabled: false, exporting: false, shutdown: () => Promise.resolve() };
    return handle;
  }
  const provider = createTracerProvider(settings);
  // SDK 3.x has no register(): what NodeTracerProvider.register() did in 2.x is done here, so
  // spans follow async work (AsyncLocalStorage) and travel as W3C traceparent/baggage.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(provider);
  handle = {
    enabled: true,
    exporting: settings.exporters.length > 0,
    shutdown: () => provider.shutdown(),
  };
  return handle;
}

const TRACER = 'dataflow';

/** Starts a span as a child of `parent` (default: the active context). Ends with `span.end()`. */
export function startSpan(name: string, options: SpanOptions = {}, parent: Context = context.active()): Span {
  return trace.getTracer(TRACER).startSpan(name, options, parent);
}

/** The context holding `span`, to run code in (`context.with`) or to inject into a carrier. */
export function contextWith(span: Span, parent: Context = context.active()): Context {
  return trace.setSpan(parent, span);
}

/** A link to the span of `ctx`, for a span that merges work of several parents (a batch). */
export function linkTo(ctx: Context): Link | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && trace.isSpanContextValid(spanContext) ? { context: spanContext } : undefined;
}

/** The W3C `traceparent` (and `tracestate`) of `ctx`, as header-like fields. */
export function injectTraceContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

const getter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    if (typeof value === 'string') return value;
    // AMQP headers may arrive as Buffers.
    return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  },
};

/** The context carried by `carrier` (a frame envelope, AMQP headers); the root context if none. */
export function extractTraceContext(carrier: Record<string, unknown> | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier, getter) : ROOT_CONTEXT;
}

/** `trace_id` / `span_id` of the active span, for log lines; empty when there is none. */
export function activeTraceIds(ctx: Context = context.active()): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
