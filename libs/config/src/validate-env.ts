import type { z } from 'zod';
import { ConfigError, describeIssue } from './config-error';

/**
 * Returns the `validate` function for `ConfigModule.forRoot`: parses the environment (process env
 * merged with `.env`) against `schema`, or throws a {@link ConfigError} naming the first bad
 * variable. Unknown variables pass through untouched; only the schema's keys are returned.
 */
export function validateEnv<Schema extends z.ZodObject>(schema: Schema) {
  return (env: Record<string, unknown>): z.output<Schema> => {
    const result = schema.safeParse(env);
    if (!result.success) {
      const first = result.error.issues[0];
      throw new ConfigError(first ? describeIssue(first, env) : 'invalid configuration');
    }
    return result.data;
  };
}
