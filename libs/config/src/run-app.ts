import { ConfigService } from '@nestjs/config';
import type { INestApplicationContext } from '@nestjs/common';
import { ConfigError, StartupError } from './config-error';
import { applyHeapPolicy } from './heap-policy';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Runs an app's bootstrap, under the apps' memory policy (see applyHeapPolicy). Apps build their
 * root module with `forRoot()` inside `bootstrap`, and `ConfigModule.forRoot` validates the
 * environment right then: a bad value surfaces here and is printed as one line instead of a stack
 * trace.
 *
 * SIGTERM or SIGINT closes the app (Nest runs every shutdown hook: intake stops, in-flight work
 * finishes or is handed back, buffers flush) and exits 0. Nest's own `enableShutdownHooks` would
 * re-raise the signal after closing, so the process would end "killed by SIGTERM", not with 0.
 * A second signal, or a drain longer than SHUTDOWN_TIMEOUT_SECONDS plus a 10 s margin (the apps
 * bound their own drains by SHUTDOWN_TIMEOUT_SECONDS), exits 1 at once.
 */
export function runApp(app: string, bootstrap: () => Promise<INestApplicationContext>): void {
  applyHeapPolicy();
  bootstrap()
    .then((instance) => {
      const seconds = instance.get(ConfigService).get<number>('SHUTDOWN_TIMEOUT_SECONDS') ?? 20;
      const shutdownTimeoutMs = seconds * 1000 + 10_000;
      let closing = false;
      for (const signal of SIGNALS) {
        process.on(signal, () => {
          if (closing) process.exit(1);
          closing = true;
          setTimeout(() => {
            process.stderr.write(`${app}: shutdown took longer than ${shutdownTimeoutMs} ms, exiting\n`);
            process.exit(1);
          }, shutdownTimeoutMs).unref();
          instance.close().then(
            () => process.exit(0),
            (error: unknown) => {
              process.stderr.write(`${app}: shutdown failed: ${error instanceof Error ? error.message : 'unknown'}\n`);
              process.exit(1);
            },
          );
        });
      }
    })
    .catch((error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${app}: invalid configuration: ${error.message}\n`);
      } else if (error instanceof StartupError) {
        process.stderr.write(`${app}: cannot start: ${error.message}\n`);
      } else {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        process.stderr.write(`${app}: failed to start: ${text}\n`);
      }
      process.exit(1);
    });
}
