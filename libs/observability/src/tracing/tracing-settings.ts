import { ConfigError } from '@dataflow/config';

/**
 * The tracing configuration, read from the standard `OTEL_*` variables. OpenTelemetry's SDK 3.x
 * no longer reads the sampler and batch variables by itself, so they are parsed here; the OTLP
 * exporter still reads its own `OTEL_EXPORTER_OTLP_*` variables (endpoint path, headers, timeout,
 * compression). A value that is set but cannot be used stops the app with one line naming the
 * variable, as every other setting does, instead of silently falling back to a default.
 */
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

export type ExporterName = 'otlp' | 'console';

export interface BatchSettings {
  readonly scheduledDelayMillis: number;
  readonly exportTimeoutMillis: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
}

export interface TracingSettings {
  readonly disabled: boolean;
  readonly serviceName: string;
  /** Exporters to send spans to; empty when nothing is exported (no endpoint, or `none`). */
  readonly exporters: readonly ExporterName[];
  readonly sampler: SamplerName;
  /** The ratio of the `*traceidratio` samplers, 0 to 1; `OTEL_TRACES_SAMPLER_ARG`, default 1. */
  readonly samplerRatio: number;
  readonly batch: BatchSettings;
}

const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];
const DEFAULT_SAMPLER: SamplerName = 'parentbased_always_on';

/** The specification's defaults for `OTEL_BSP_*`. */
export const DEFAULT_BATCH: BatchSettings = {
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 30_000,
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
};

type Env = Readonly<Record<string, string | undefined>>;

/** Trimmed value, or undefined when unset or empty (an empty value means "use the default"). */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function refuse(name: string, problem: string, value: string, secret = false): never {
  throw new ConfigError(`${name}: ${problem} (got ${secret ? 'hidden' : JSON.stringify(value.slice(0, 80))})`);
}

function flag(env: Env, name: string): boolean {
  const value = read(env, name);
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return refuse(name, 'must be true or false', value);
}

function integer(env: Env, name: string, fallback: number, min: number): number {
  const value = read(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    return refuse(name, `must be a whole number >= ${min}`, value);
  }
  return Number(value);
}

function endpoint(env: Env, name: string): string | undefined {
  const value = read(env, name);
  if (value === undefined) return undefined;
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    return refuse(name, 'must be an http: or https: URL', value, true);
  }
  return protocol === 'http:' || protocol === 'https:'
    ? value
    : refuse(name, 'must be an http: or https: URL', value, true);
}

function exporters(env: Env): ExporterName[] {
  const name = 'OTEL_TRACES_EXPORTER';
  const raw = read(env, name) ?? 'otlp';
  const names = raw.split(',').map((part) => part.trim().toLowerCase());
  const chosen: ExporterName[] = [];
  for (const exporter of names) {
    if (exporter === 'none') continue;
    if (exporter !== 'otlp' && exporter !== 'console') return refuse(name, 'must be otlp, console or none', raw);
    if (!chosen.includes(exporter)) chosen.push(exporter);
  }
  // Without an endpoint the OTLP exporter would send to localhost:4318; the documented behaviour
  // is "nothing is exported and nothing fails".
  const hasEndpoint =
    endpoint(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined ||
    endpoint(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined;
  return chosen.filter((exporter) => exporter !== 'otlp' || hasEndpoint);
}

function sampler(env: Env): SamplerName {
  const value = read(env, 'OTEL_TRACES_SAMPLER');
  if (value === undefined) return DEFAULT_SAMPLER;
  const lower = value.toLowerCase();
  return (SAMPLERS as readonly string[]).includes(lower)
    ? (lower as SamplerName)
    : refuse('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}`, value);
}

/** The argument is only read by the ratio samplers, as the specification says. */
function samplerRatio(env: Env, chosen: SamplerName): number {
  const value = read(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (value === undefined || !chosen.endsWith('traceidratio')) return 1;
  const ratio = Number(value);
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1
    ? ratio
    : refuse('OTEL_TRACES_SAMPLER_ARG', 'must be a number from 0 to 1 for a traceidratio sampler', value);
}

function batch(env: Env): BatchSettings {
  const maxQueueSize = integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', DEFAULT_BATCH.maxQueueSize, 1);
  const batchVariable = 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE';
  // The specification's default batch (512) shrinks to a smaller queue rather than failing.
  const maxExportBatchSize = integer(env, batchVariable, Math.min(DEFAULT_BATCH.maxExportBatchSize, maxQueueSize), 1);
  if (maxExportBatchSize > maxQueueSize) {
    refuse(batchVariable, `must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`, String(maxExportBatchSize));
  }
  return {
    scheduledDelayMillis: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', DEFAULT_BATCH.scheduledDelayMillis, 0),
    exportTimeoutMillis: integer(env, 'OTEL_BSP_EXPORT_TIMEOUT', DEFAULT_BATCH.exportTimeoutMillis, 1),
    maxQueueSize,
    maxExportBatchSize,
  };
}

/** Reads every tracing variable; throws {@link ConfigError} for the first unusable one. */
export function readTracingSettings(app: string, env: Env): TracingSettings {
  const disabled = flag(env, 'OTEL_SDK_DISABLED');
  const chosenSampler = sampler(env);
  return {
    disabled,
    serviceName: read(env, 'OTEL_SERVICE_NAME') ?? app,
    exporters: disabled ? [] : exporters(env),
    sampler: chosenSampler,
    samplerRatio: samplerRatio(env, chosenSampler),
    batch: batch(env),
  };
}
