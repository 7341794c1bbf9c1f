import { z } from 'zod';
import { listenHostVariable } from './listen-host';
import { DEFAULT_PARTITIONS, MAX_PARTITIONS } from '@dataflow/contracts';

/**
 * Building blocks for the per-app environment schemas. Every variable is a string in the
 * environment; these coerce and range-check it so an app never starts on a bad value.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * An empty or blank value (`FILTER_THRESHOLD=` in .env, `${VAR:-}` in compose) means "not set":
 * the default applies. Without this, number coercion would quietly read it as 0.
 */
function blankAsUnset(value: unknown): unknown {
  return typeof value === 'string' && value.trim() === '' ? undefined : value;
}

function numeric(schema: z.ZodNumber, defaultValue: number) {
  return z.preprocess(blankAsUnset, z.coerce.number<unknown>().pipe(schema).default(defaultValue));
}

export function port(defaultValue: number) {
  return numeric(z.number().int().min(1).max(65535), defaultValue);
}

export function integer(defaultValue: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  return numeric(z.number().int().min(min).max(max), defaultValue);
}

/** An integer in range, or undefined when unset (the app derives a value from others). */
export function optionalInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(blankAsUnset, z.coerce.number<unknown>().pipe(z.number().int().min(min).max(max)).optional());
}

export function decimal(defaultValue: number, min: number, max: number) {
  return numeric(z.number().min(min).max(max), defaultValue);
}

export function flag(defaultValue: boolean) {
  return z.preprocess(
    blankAsUnset,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(defaultValue ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes'),
  );
}

export function url(defaultValue: string, protocols: readonly string[]) {
  return z.preprocess(blankAsUnset, urlString(defaultValue, protocols));
}

function urlString(defaultValue: string, protocols: readonly string[]) {
  return z
    .string()
    .default(defaultValue)
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL with scheme ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}`,
    );
}

/**
 * One URL, or several separated by commas (the nodes of a cluster, tried in turn on every
 * reconnect); kept as the string given. See {@link urlList}.
 */
export function urls(defaultValue: string, protocols: readonly string[]) {
  return z.preprocess(
    blankAsUnset,
    z
      .string()
      .default(defaultValue)
      .refine(
        (value) =>
          urlList(value).length > 0 &&
          urlList(value).every((item) => {
            try {
              return protocols.includes(new URL(item).protocol);
            } catch {
              return false;
            }
          }),
        `must be a URL with scheme ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}, or several separated by commas`,
      ),
  );
}

/** The URLs of a {@link urls} value. */
export function urlList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function optionalSecret() {
  return z
    .string()
    .optional()
    .transform((value) => (value === undefined || value === '' ? undefined : value));
}

export function choice<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) {
  return z.preprocess(blankAsUnset, z.enum(values).default(defaultValue));
}

export const commonEnv = {
  NODE_ENV: choice(['development', 'production', 'test'], 'development'),
  LOG_LEVEL: choice(LOG_LEVELS, 'info'),
  /** Seconds a SIGTERM may take to drain before the app gives up and exits. */
  SHUTDOWN_TIMEOUT_SECONDS: integer(20, 1, 600),
  /** Address the HTTP server binds; unset: loopback unless the app's tokens are set (see listenHost). */
  LISTEN_HOST: listenHostVariable(),
};

export const rabbitEnv = {
  /** Several nodes of a cluster may be listed, comma-separated: a lost connection moves to the next. */
  RABBITMQ_URL: urls('amqp://guest:guest@127.0.0.1:5672', ['amqp:', 'amqps:']),
  /**
   * Partitions per sink of the RabbitMQ topology (docs/scale-out.md): 1 is the unpartitioned
   * topology of CONTRACT.md §5. Every app that touches the broker must be given the same value.
   */
  RECORD_PARTITIONS: integer(DEFAULT_PARTITIONS, 1, MAX_PARTITIONS),
};
