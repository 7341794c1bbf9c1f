import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, Link, Span, SpanOptions, TextMapGetter } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';

/**
 * OpenTelemetry tracing, configured only by the standard variables:
 *
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`: spans are exported there
 *   (OTLP over HTTP). Without either, nothing is exported and nothing fails.
 * - `OTEL_TRACES_EXPORTER`: `otlp` (default), `console`, or `none`.
 * - `OTEL_SERVICE_NAME` (default: the app's name), `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`.
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
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') {
    handle = { enabled: false, exporting: false, shutdown: () => Promise.resolve() };
    return handle;
  }
  const processors: SpanProcessor[] = [];
  const exporter = (env.OTEL_TRACES_EXPORTER ?? 'otlp').trim().toLowerCase();
  const endpoint = (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').trim();
  if (exporter === 'console') processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
  else if (exporter === 'otlp' && endpoint !== '') processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || app }),
    spanProcessors: processors,
  });
  // Registers the AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  handle = {
    enabled: true,
    exporting: processors.length > 0,
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
