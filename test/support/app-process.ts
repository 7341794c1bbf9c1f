import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppProcess as AppRun, PORT_VARIABLE, type AppName } from '../../scripts/kit/app-process';
import { waitUntil } from '../../scripts/kit/wait';

export type { AppName };

export const LOG_DIR = join(process.cwd(), 'data', 'test-logs');

/**
 * An app of the build output (`npm run build`) as a spec runs it: test mode, its port, logs in
 * data/test-logs/<name>-<port>.log; the rest is the harnesses' one app-process helper.
 */
export class AppProcess extends AppRun {
  constructor(name: AppName, port: number, env: Record<string, string>) {
    mkdirSync(LOG_DIR, { recursive: true });
    super({
      app: name,
      port,
      env: { NODE_ENV: 'test', LOG_LEVEL: 'info', [PORT_VARIABLE[name]]: String(port), ...env },
      logFile: join(LOG_DIR, `${name}-${port}.log`),
    });
  }

  override start(timeoutMs = 30_000): Promise<this> {
    return super.start(timeoutMs);
  }

  override stop(timeoutMs = 30_000): Promise<number | null> {
    return super.stop(timeoutMs);
  }
}

export { sleep } from '../../scripts/kit/wait';

/** Polls `condition` every 100 ms until it holds (see scripts/kit/wait.ts); `abort` gives a reason to stop. */
export function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  abort?: () => string | undefined,
): Promise<void> {
  return waitUntil(condition, timeoutMs, what, { giveUp: abort, intervalMs: 100 });
}
