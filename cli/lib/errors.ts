import { redactUrl } from '@dataflow/observability/redact';

/** Exit codes of every command. */
export const EXIT_OK = 0;
/** `verify` found something wrong in the stores. */
export const EXIT_FINDINGS = 1;
/** Bad usage, a refused or failed connection, or any other error. */
export const EXIT_ERROR = 2;

/** An expected failure: printed as one line, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A URL with its password replaced, fit for messages and logs (the apps' own masking). */
export const maskUrl = redactUrl;

/** The shortest useful description of an error: its code and message, on one line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const text = error.message.split('\n')[0] ?? '';
    const nested = error.cause instanceof Error ? describeError(error.cause) : undefined;
    const base = text.length > 0 ? text : typeof code === 'string' ? code : error.name;
    if (typeof code === 'string' && !base.includes(code)) return `${code}: ${base}`;
    if (nested !== undefined && !base.includes(nested)) return `${base} (${nested})`;
    return base;
  }
  if (error !== null && typeof error === 'object') {
    // AggregateError-like values from connection attempts to several addresses.
    const errors = (error as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) return describeError(errors[0]);
  }
  return String(error);
}

/** Wraps a connection attempt so that a refused connection becomes one clear line. */
export async function connecting<T>(what: string, url: string, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    const aggregate: unknown = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
    throw new CliError(`cannot connect to ${what} at ${maskUrl(url)}: ${describeError(aggregate)}`);
  }
}
