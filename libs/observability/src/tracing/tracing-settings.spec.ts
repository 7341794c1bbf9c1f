import { ConfigError } from '@dataflow/config';
import { DEFAULT_BATCH, readTracingSettings } from './tracing-settings';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

function refusal(env: Record<string, string>): string {
  try {
    readTracingSettings('filter', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('readTracingSettings', () => {
  it('uses the specification defaults when nothing is set', () => {
    expect(readTracingSettings('filter', {})).toEqual({
      disabled: false,
      serviceName: 'filter',
      exporters: [],
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      batch: DEFAULT_BATCH,
    });
  });

  it('treats empty values as unset', () => {
    const settings = readTracingSettings('filter', {
      OTEL_SDK_DISABLED: '',
      OTEL_TRACES_SAMPLER: ' ',
      OTEL_BSP_SCHEDULE_DELAY: '',
      OTEL_SERVICE_NAME: '',
    });
    expect(settings).toMatchObject({ disabled: false, sampler: 'parentbased_always_on', serviceName: 'filter' });
    expect(settings.batch).toEqual(DEFAULT_BATCH);
  });

  it('switches tracing off with OTEL_SDK_DISABLED=true in any case', () => {
    expect(readTracingSettings('filter', { ...ENDPOINT, OTEL_SDK_DISABLED: 'TRUE' })).toMatchObject({
      disabled: true,
      exporters: [],
    });
    expect(readTracingSettings('filter', { OTEL_SDK_DISABLED: 'false' }).disabled).toBe(false);
    expect(refusal({ OTEL_SDK_DISABLED: 'maybe' })).toBe('OTEL_SDK_DISABLED: must be true or false (got "maybe")');
  });

  it('exports over OTLP only when an endpoint is set', () => {
    expect(readTracingSettings('filter', ENDPOINT).exporters).toEqual(['otlp']);
    expect(
      readTracingSettings('filter', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c:4318/v1/traces' }).exporters,
    ).toEqual(['otlp']);
    expect(readTracingSettings('filter', { ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }).exporters).toEqual([]);
    expect(readTracingSettings('filter', { OTEL_TRACES_EXPORTER: 'console' }).exporters).toEqual(['console']);
    expect(
      readTracingSettings('filter', { ...ENDPOINT, OTEL_TRACES_EXPORTER: 'otlp, Console,otlp' }).exporters,
    ).toEqual(['otlp', 'console']);
  });

  it('refuses an unknown exporter and an endpoint that is not an http URL, without echoing the URL', () => {
    expect(refusal({ OTEL_TRACES_EXPORTER: 'zipkin' })).toBe(
      'OTEL_TRACES_EXPORTER: must be otlp, console or none (got "zipkin")',
    );
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toBe(
      'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http: or https: URL (got hidden)',
    );
    expect(refusal({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toContain(
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:',
    );
  });

  it('takes the service name from OTEL_SERVICE_NAME', () => {
    expect(readTracingSettings('filter', { OTEL_SERVICE_NAME: ' ingest-filter ' }).serviceName).toBe('ingest-filter');
  });

  it.each([
    'always_on',
    'always_off',
    'traceidratio',
    'parentbased_always_on',
    'parentbased_always_off',
    'parentbased_traceidratio',
  ])('accepts the sampler %s', (sampler) => {
    expect(readTracingSettings('filter', { OTEL_TRACES_SAMPLER: sampler.toUpperCase() }).sampler).toBe(sampler);
  });

  it('refuses an unknown sampler', () => {
    expect(refusal({ OTEL_TRACES_SAMPLER: 'sometimes' })).toMatch(
      /^OTEL_TRACES_SAMPLER: must be one of always_on, .*parentbased_traceidratio \(got "sometimes"\)$/,
    );
  });

  it('reads OTEL_TRACES_SAMPLER_ARG as the ratio of the ratio samplers only', () => {
    const ratio = (env: Record<string, string>) => readTracingSettings('filter', env).samplerRatio;
    expect(ratio({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })).toBe(0.25);
    expect(ratio({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })).toBe(0);
    expect(ratio({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' })).toBe(1);
    // Ignored (not refused) for samplers that take no argument, as the specification says.
    expect(ratio({ OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: 'whatever' })).toBe(1);
    expect(refusal({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toBe(
      'OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1 for a traceidratio sampler (got "1.5")',
    );
    expect(refusal({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' })).toContain(
      'OTEL_TRACES_SAMPLER_ARG',
    );
  });

  it('reads the four OTEL_BSP_* variables', () => {
    expect(
      readTracingSettings('filter', {
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_BSP_EXPORT_TIMEOUT: '1000',
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
      }).batch,
    ).toEqual({ scheduledDelayMillis: 200, exportTimeoutMillis: 1000, maxQueueSize: 100, maxExportBatchSize: 10 });
    expect(readTracingSettings('filter', { OTEL_BSP_SCHEDULE_DELAY: '0' }).batch.scheduledDelayMillis).toBe(0);
  });

  it('shrinks the default batch to a smaller queue, and refuses a batch larger than the queue', () => {
    expect(readTracingSettings('filter', { OTEL_BSP_MAX_QUEUE_SIZE: '100' }).batch.maxExportBatchSize).toBe(100);
    expect(refusal({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200' })).toBe(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE: must not exceed OTEL_BSP_MAX_QUEUE_SIZE (100) (got "200")',
    );
  });

  it.each([
    ['OTEL_BSP_SCHEDULE_DELAY', '-1'],
    ['OTEL_BSP_SCHEDULE_DELAY', '1.5'],
    ['OTEL_BSP_EXPORT_TIMEOUT', '0'],
    ['OTEL_BSP_MAX_QUEUE_SIZE', 'lots'],
    ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '0'],
  ])('refuses %s=%s', (name, value) => {
    expect(refusal({ [name]: value })).toMatch(
      new RegExp(`^${name}: must be a whole number >= \\d \\(got "${value}"\\)$`),
    );
  });
});
