import { redactText } from './redact';

const MAX_LENGTH = 500;

/**
 * One line for a log about anything thrown or rejected: `Error: message (code ECONNREFUSED)`.
 * Drivers reject with plain objects too (amqp-connection-manager's `{ err, url }`), which
 * `String(error)` turns into `[object Object]`; those are described by their message, code or
 * nested error instead. Credentials in the text are masked.
 */
export function describeError(error: unknown): string {
  return redactText(describe(error, 0)).slice(0, MAX_LENGTH);
}

function describe(error: unknown, depth: number): string {
  if (error instanceof AggregateError && error.errors.length > 0 && depth < 3) {
    return `${withCode(error)}: ${error.errors.map((e: unknown) => describe(e, depth + 1)).join('; ')}`;
  }
  if (error instanceof Error) {
    const cause = error.cause !== undefined && depth < 3 ? ` [cause: ${describe(error.cause, depth + 1)}]` : '';
    return `${withCode(error)}${cause}`;
  }
  if (typeof error === 'object' && error !== null) {
    const fields = error as Record<string, unknown>;
    for (const key of ['err', 'error', 'cause']) {
      if (fields[key] !== undefined && depth < 3) return describe(fields[key], depth + 1);
    }
    if (typeof fields.message === 'string') {
      const code = codeText(fields.code);
      return code !== undefined ? `${fields.message} (code ${code})` : fields.message;
    }
    try {
      return JSON.stringify(error) ?? Object.prototype.toString.call(error);
    } catch {
      return Object.prototype.toString.call(error);
    }
  }
  return String(error);
}

function withCode(error: Error): string {
  const code = codeText((error as { code?: unknown }).code);
  const text = error.message ? `${error.name}: ${error.message}` : error.name;
  return code !== undefined && !text.includes(code) ? `${text} (code ${code})` : text;
}

/** Error codes are strings (`ECONNREFUSED`) or numbers (AMQP's 406); anything else is not a code. */
function codeText(code: unknown): string | undefined {
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}
