import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { ExporterName, TracingSettings } from './tracing-settings';

/** The sampler named by `OTEL_TRACES_SAMPLER`, built as the specification describes it. */
export function createSampler(settings: Pick<TracingSettings, 'sampler' | 'samplerRatio'>): Sampler {
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(settings.samplerRatio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplerRatio) });
  }
}

function processorFor(name: ExporterName, settings: TracingSettings): SpanProcessor {
  // The console exporter is for looking at spans by hand: each one as it ends, not in batches.
  if (name === 'console') return new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() });
  return new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...settings.batch });
}

/**
 * A tracer provider for `settings`. `exporters` replaces the configured ones (tests pass an
 * in-memory exporter); the provider is not registered globally here.
 */
export function createTracerProvider(settings: TracingSettings, exporters?: readonly SpanExporter[]): TracerProvider {
  const spanProcessors = exporters
    ? exporters.map((exporter) => new BatchSpanProcessor({ exporter, ...settings.batch }))
    : settings.exporters.map((name) => processorFor(name, settings));
  return new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    sampler: createSampler(settings),
    spanProcessors,
  });
}
