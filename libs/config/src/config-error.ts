import type { z } from 'zod';

/** A configuration problem, already phrased as the one line an operator needs to read. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The app cannot start for a reason an operator must fix (a corrupt state file, say), already
 * phrased as one line: printed without a stack trace.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** `GENERATOR_RATE: must be >= 1 (got "0")`: names the variable, shows the value unless secret. */
export function describeIssue(issue: z.core.$ZodIssue, env: Record<string, unknown>): string {
  const variable = String(issue.path[0] ?? 'environment');
  const raw = env[variable];
  const secret = /TOKEN|PASSWORD|SECRET|URL/.test(variable);
  const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
  const shown = raw === undefined || raw === '' ? 'unset' : secret ? 'hidden' : JSON.stringify(text).slice(0, 80);
  return `${variable}: ${issue.message} (got ${shown})`;
}
