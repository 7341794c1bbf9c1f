import { ConfigError } from './config-error';

/**
 * Runs an app's bootstrap. Apps build their root module with `forRoot()` inside `bootstrap`, and
 * `ConfigModule.forRoot` validates the environment right then: a bad value surfaces here and is
 * printed as one line instead of a stack trace.
 */
export function runApp(app: string, bootstrap: () => Promise<void>): void {
  bootstrap().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${app}: invalid configuration: ${error.message}\n`);
    } else {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`${app}: failed to start: ${text}\n`);
    }
    process.exit(1);
  });
}
