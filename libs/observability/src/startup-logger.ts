import type { LoggerService } from '@nestjs/common';
import pino from 'pino';
import { redactText } from './redact';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * The log of an app while Nest is still creating it, in the same JSON shape as the app's logger
 * (`app`, `level` as a name, `msg`, `context`). Nest's `bufferLogs` would hold these lines until
 * creation completes, and a writer whose database is down never completes it: its connection
 * attempts must be visible while they happen. `app.useLogger()` replaces this one afterwards.
 */
export function startupLogger(app: string, level = process.env.LOG_LEVEL): LoggerService {
  const logger = pino({
    level: level !== undefined && LEVELS.has(level) ? level : 'info',
    base: { app },
    formatters: { level: (label: string) => ({ level: label }) },
  });
  const write =
    (method: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal') =>
    (message: unknown, ...rest: unknown[]): void => {
      // Nest passes the context last, and for errors the stack before it.
      const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
      const stack = method === 'error' && rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
      const text = typeof message === 'string' ? message : JSON.stringify(message);
      logger[method]({ context, ...(stack !== undefined && { stack: redactText(stack) }) }, redactText(text));
    };
  return {
    log: write('info'),
    error: write('error'),
    warn: write('warn'),
    debug: write('debug'),
    verbose: write('trace'),
    fatal: write('fatal'),
  };
}
