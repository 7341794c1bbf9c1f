import { jest } from '@jest/globals';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { InMemorySpanExporter, SamplingDecision } from '@opentelemetry/sdk-trace';
import { createSampler, createTracerProvider } from './tracer-provider';
import { readTracingSettings } from './tracing-settings';

/** A context whose parent span is remote and sampled, or not. */
function remoteParent(sampled: boolean) {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

function decision(sampler: string, parent = ROOT_CONTEXT, arg?: string): SamplingDecision {
  const env: Record<string, string> = { OTEL_TRACES_SAMPLER: sampler };
  if (arg !== undefined) env.OTEL_TRACES_SAMPLER_ARG = arg;
  const traceId = 'ffffffffffffffffffffffffffffffff';
  return createSampler(readTracingSettings('app', env)).shouldSample(parent, traceId, 'span', 0, {}, []).decision;
}

describe('createSampler', () => {
  const SAMPLED = SamplingDecision.RECORD_AND_SAMPLED;
  const DROPPED = SamplingDecision.NOT_RECORD;

  it('builds the sampler each OTEL_TRACES_SAMPLER value names', () => {
    expect(decision('always_on', remoteParent(false))).toBe(SAMPLED);
    expect(decision('always_off', remoteParent(true))).toBe(DROPPED);
    expect(decision('parentbased_always_on')).toBe(SAMPLED);
    expect(decision('parentbased_always_on', remoteParent(false))).toBe(DROPPED);
    expect(decision('parentbased_always_off')).toBe(DROPPED);
    expect(decision('parentbased_always_off', remoteParent(true))).toBe(SAMPLED);
  });

  it('passes OTEL_TRACES_SAMPLER_ARG to the ratio samplers', () => {
    expect(decision('traceidratio', ROOT_CONTEXT, '0')).toBe(DROPPED);
    expect(decision('traceidratio', ROOT_CONTEXT, '1')).toBe(SAMPLED);
    expect(decision('parentbased_traceidratio', ROOT_CONTEXT, '0')).toBe(DROPPED);
    expect(decision('parentbased_traceidratio', remoteParent(true), '0')).toBe(SAMPLED);
  });
});

describe('createTracerProvider', () => {
  it('exports in batches of OTEL_BSP_MAX_EXPORT_BATCH_SIZE under the configured service name', async () => {
    const exporter = new InMemorySpanExporter();
    const exportSpy = jest.spyOn(exporter, 'export');
    const settings = readTracingSettings('generator', {
      OTEL_SERVICE_NAME: 'gen-a',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    });
    const provider = createTracerProvider(settings, [exporter]);
    const tracer = provider.getTracer('test');
    for (let i = 0; i < 5; i++) tracer.startSpan(`span-${i}`, {}, context.active()).end();
    await provider.forceFlush();
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual([
      'span-0',
      'span-1',
      'span-2',
      'span-3',
      'span-4',
    ]);
    expect(exportSpy.mock.calls.map(([spans]) => spans.length)).toEqual([2, 2, 1]);
    expect(exporter.getFinishedSpans()[0]?.resource.attributes['service.name']).toBe('gen-a');
    await provider.shutdown();
  });

  it('records nothing with OTEL_TRACES_SAMPLER=always_off', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = createTracerProvider(readTracingSettings('app', { OTEL_TRACES_SAMPLER: 'always_off' }), [
      exporter,
    ]);
    const span = provider.getTracer('test').startSpan('dropped');
    expect(span.isRecording()).toBe(false);
    span.end();
    await provider.forceFlush();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await provider.shutdown();
  });
});
