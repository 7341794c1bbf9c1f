import { z } from 'zod';

/**
 * Building blocks for the per-app environment schemas. Every variable is a string in the
 * environment; these coerce and range-check it so an app never starts on a bad value.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function port(defaultValue: number) {
  return z.coerce.number().int().min(1).max(65535).default(defaultValue);
}

export function integer(defaultValue: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.coerce.number().int().min(min).max(max).default(defaultValue);
}

export function decimal(defaultValue: number, min: number, max: number) {
  return z.coerce.number().min(min).max(max).default(defaultValue);
}

export function flag(defaultValue: boolean) {
  return z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(defaultValue ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1' || value === 'yes');
}

export function url(defaultValue: string, protocols: readonly string[]) {
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

export function optionalSecret() {
  return z
    .string()
    .optional()
    .transform((value) => (value === undefined || value === '' ? undefined : value));
}

export const commonEnv = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Seconds a SIGTERM may take to drain before the app gives up and exits. */
  SHUTDOWN_TIMEOUT_SECONDS: integer(20, 1, 600),
};

export const rabbitEnv = {
  RABBITMQ_URL: url('amqp://guest:guest@127.0.0.1:5672', ['amqp:', 'amqps:']),
};
